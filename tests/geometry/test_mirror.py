"""MirrorDescent: update formulas, momentum in the dual space, torch.optim conventions, errors."""

from __future__ import annotations

import io

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.geometry import HypEntropy, MirrorDescent, PNorm, make_geometry, make_potential


def _one(potential: str, foreach: bool = True, **kw) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    w = torch.randn(50, requires_grad=True)
    w0 = w.detach().clone()
    g = torch.randn(50)
    w.grad = g.clone()
    MirrorDescent([w], lr=0.1, potential=potential, foreach=foreach, **kw).step()
    return w0, g, w.detach()


def test_euclidean_is_sgd_and_eg_formula() -> None:
    w0, g, w = _one("euclidean")
    assert torch.allclose(w, w0 - 0.1 * g)
    w0, g, w = _one("negentropy")
    assert torch.allclose(w, w0 * torch.exp(-0.1 * torch.sign(w0) * g))
    for fe in (True, False):
        w0, g, w = _one("pnorm", foreach=fe, p=3.0)
        pot = PNorm(3.0)
        assert torch.allclose(pot.grad(w), pot.grad(w0) - 0.1 * g, atol=1e-5)


def test_hypentropy_can_flip_sign_and_matches_inverse() -> None:
    pot = HypEntropy(0.5)
    x = torch.linspace(-3, 3, 101)
    assert torch.allclose(pot.inverse(pot.grad(x)), x, atol=1e-5)
    w = torch.tensor([0.01], requires_grad=True)
    w.grad = torch.tensor([1.0])
    MirrorDescent([w], lr=0.5, potential=pot).step()
    assert w.item() < 0


def test_momentum_matches_sgd_and_lives_in_dual_space() -> None:
    torch.manual_seed(0)
    a = torch.randn(20, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    opt_a = MirrorDescent([a], lr=0.05, potential="euclidean", momentum=0.9, weight_decay=0.01)
    opt_b = torch.optim.SGD([b], lr=0.05, momentum=0.9, weight_decay=0.01)
    for _ in range(5):
        g = torch.randn(20)
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    assert torch.allclose(a, b, atol=1e-6)
    c = torch.rand(10).add_(0.5).requires_grad_(True)
    c0 = c.detach().clone()
    opt = MirrorDescent([c], lr=0.1, potential="negentropy", momentum=0.5)
    c.grad = torch.ones(10)
    opt.step()
    opt.step()
    assert torch.allclose(torch.log(c), torch.log(c0) - 0.1 * (1 + 1.5), atol=1e-5)


def test_param_groups_state_dict_and_scheduler() -> None:
    torch.manual_seed(0)
    w1, w2 = torch.rand(5, 3).add_(0.1).requires_grad_(True), torch.randn(4, requires_grad=True)
    opt = MirrorDescent([{"params": [w1], "potential": "negentropy"}, {"params": [w2], "lr": 0.2}],
                        lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["potential"].name == "negentropy"
    assert opt.param_groups[1]["potential"].name == "euclidean" and opt.param_groups[1]["lr"] == 0.2
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        w1.grad, w2.grad = torch.ones_like(w1), torch.ones_like(w2)
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    sd = torch.load(buf, weights_only=True)
    assert sd["param_groups"][0]["potential"] == {"name": "negentropy"}
    v1, v2 = w1.detach().clone().requires_grad_(True), w2.detach().clone().requires_grad_(True)
    opt2 = MirrorDescent([{"params": [v1], "potential": "negentropy"}, {"params": [v2], "lr": 0.2}], lr=0.1,
                         momentum=0.9)
    opt2.load_state_dict(sd)
    for o, ps in ((opt, (w1, w2)), (opt2, (v1, v2))):
        for p in ps:
            p.grad = torch.full_like(p, 0.3)
        o.step()
    assert torch.allclose(w1, v1) and torch.allclose(w2, v2)
    assert opt2.param_groups[0]["potential"].name == "negentropy"


def test_bad_input_names_the_argument() -> None:
    w = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ConfigError, match="potential"):
        MirrorDescent(w, potential="banana")
    with pytest.raises(ConfigError, match="p="):
        PNorm(1.0)
    with pytest.raises(ConfigError, match="p="):
        make_potential("pnorm", p=0.5)
    with pytest.raises(ConfigError, match="lr"):
        MirrorDescent(w, lr=-1)
    with pytest.raises(ConfigError, match="momentum"):
        MirrorDescent(w, momentum=1.5)
    with pytest.raises(ConfigError, match="beta"):
        HypEntropy(0.0)
    with pytest.raises(ConfigError, match="geometry"):
        make_geometry("riemann", w)
    assert make_potential("3-norm").p == 3.0 and make_potential("2-norm").name == "euclidean"


def test_potential_specs_round_trip() -> None:
    for pot in (make_potential("euclidean"), make_potential("negentropy"), PNorm(2.5), HypEntropy(0.3)):
        again = make_potential(pot.spec())
        assert type(again) is type(pot) and again.spec() == pot.spec()
        x = torch.linspace(0.1, 2.0, 7)
        assert torch.allclose(again.inverse(again.grad(x), torch.sign(x)), x, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("potential,kw", [("euclidean", {}), ("negentropy", {}), ("pnorm", {"p": 3.0}),
                                          ("pnorm", {"p": 2.5}), ("hypentropy", {"beta": 0.5})])
def test_compiled_step_matches_eager(potential: str, kw: dict) -> None:
    """compile=True fuses decay, momentum and the potential into one kernel; same arithmetic up to rounding."""
    torch.manual_seed(0)
    a = (torch.rand(300) + 0.1).requires_grad_(True)
    b = a.detach().clone().requires_grad_(True)
    opt_a = MirrorDescent([a], lr=0.1, potential=potential, momentum=0.9, weight_decay=0.01, compile=True, **kw)
    opt_b = MirrorDescent([b], lr=0.1, potential=potential, momentum=0.9, weight_decay=0.01, **kw)
    sched = torch.optim.lr_scheduler.StepLR(opt_a, step_size=1, gamma=0.5)
    sched_b = torch.optim.lr_scheduler.StepLR(opt_b, step_size=1, gamma=0.5)
    for _ in range(3):
        g = torch.randn(300)
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
        sched.step()
        sched_b.step()
    assert not torch.equal(a, a.new_zeros(300)) and torch.allclose(a, b, atol=1e-5, rtol=1e-5)
