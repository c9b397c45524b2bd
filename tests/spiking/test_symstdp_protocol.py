import math

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.spiking.symstdp import (
    Events,
    SymSTDPConfig,
    SymSTDPNetwork,
    assign_labels,
    assignment_predict,
    pair_stdp,
    pixel_rates,
    poisson_events,
    run_pass,
)


def _ev(*rows):
    t, b, i = zip(*rows, strict=True)
    return Events(torch.tensor(t), torch.tensor(b), torch.tensor(i))


def test_pair_stdp_symmetric_window_by_hand():
    pre, post = _ev((10, 0, 0)), _ev((15, 0, 1))
    dw = pair_stdp(pre, post, 2, 2, tau=10.0, dt=1.0, n_steps=30)
    assert dw[0, 1] == pytest.approx(math.exp(-0.5))
    assert dw.sum() == pytest.approx(math.exp(-0.5))
    # post before pre by the same lag: same potentiation (symmetric window)
    assert pair_stdp(_ev((15, 0, 0)), _ev((10, 0, 1)), 2, 2, 10.0, 1.0, 30)[0, 1] == pytest.approx(math.exp(-0.5))
    # spikes of different images never pair; pairs beyond the window are skipped
    assert pair_stdp(_ev((10, 1, 0)), post, 2, 2, 10.0, 1.0, 30).sum() == 0
    assert pair_stdp(_ev((0, 0, 0)), _ev((29, 0, 1)), 2, 2, 5.0, 1.0, 30, window=5.0).sum() == 0


def test_pair_stdp_equals_additive_traces():
    """The reference's rule (pre spike: g += x_post; post spike: g += x_pre; traces jump by 1, decay exp)."""
    g = torch.Generator().manual_seed(0)
    T, B, n_pre, n_post, tau = 60, 3, 5, 4, 8.0
    s_pre = torch.rand(T, B, n_pre, generator=g) < 0.1
    s_post = torch.rand(T, B, n_post, generator=g) < 0.05
    want = torch.zeros(n_pre, n_post, dtype=torch.float64)
    x_pre = torch.zeros(B, n_pre, dtype=torch.float64)
    x_post = torch.zeros(B, n_post, dtype=torch.float64)
    d = math.exp(-1.0 / tau)
    for t in range(T):
        x_pre *= d
        x_post *= d
        want += s_pre[t].double().t() @ x_post  # pre spikes read the post trace (post spikes strictly before)
        x_pre += s_pre[t].double()
        want += x_pre.t() @ s_post[t].double()  # post spikes read the pre trace (pre spikes up to now)
        x_post += s_post[t].double()
    got = pair_stdp(Events.from_dense(s_pre), Events.from_dense(s_post), n_pre, n_post, tau, 1.0, T,
                    window=100.0, max_pairs=7, dtype=torch.float64)
    assert torch.allclose(got, want)


def test_poisson_events_rate_and_order():
    g = torch.Generator().manual_seed(1)
    rates = torch.tensor([[0.0, 100.0, 400.0]]).repeat(200, 1)
    ev = poisson_events(rates, 350, 1.0, g)
    assert bool((ev.t[1:] >= ev.t[:-1]).all())
    counts = torch.bincount(ev.i, minlength=3).double() / 200
    assert counts[0] == 0
    assert counts[1] == pytest.approx(35.0, rel=0.05) and counts[2] == pytest.approx(140.0, rel=0.05)


@pytest.mark.parametrize("key", ["max_intensity", "intensity_init", "n_exc", "dt"])
def test_bad_config_is_one_line_naming_the_argument(key):
    with pytest.raises(ConfigError) as e:
        SymSTDPConfig(**{key: 0})
    assert key in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="max_intensity"):
        SymSTDPConfig(max_intensity=-1.0)


def test_normalisation_before_each_image():
    net = SymSTDPNetwork(SymSTDPConfig(n_in=16, n_exc=6, n_cla=3), seed=0)
    net.normalize(train=True)
    assert torch.allclose(net.w_pe.sum(0), torch.full((6,), 78.4))
    assert torch.allclose(net.w_ec.sum(0), torch.full((3,), 0.1 * 6 * 8.0))


def test_silent_image_is_shown_again_with_raised_intensity():
    cfg = SymSTDPConfig(n_in=16, n_exc=6, n_cla=2, dt=1.0, t_run=20.0, intensity_init=2.0, max_intensity=5.0)
    net = SymSTDPNetwork(cfg, seed=0)
    r = run_pass(net, torch.zeros(1, 16), torch.tensor([1]), batch_size=1, generator=torch.Generator())
    assert r.presentations == 4 and float(r.intensity[0]) == 5.0  # intensities 2, 3, 4, 5 (the limit)
    assert float(r.exc_counts.sum()) == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_training_learns_the_teacher_mapping(dtype):
    """Two bars, one class each: after a few images the class layer answers with the label."""
    cfg = SymSTDPConfig(n_in=16, n_exc=8, n_cla=2, dt=1.0, t_run=60.0, norm_pe=16.0, nu_ec=0.5, nu_pe=0.05,
                        min_spikes=1, max_intensity=4.0)
    net = SymSTDPNetwork(cfg, seed=0).to(dtype=dtype)
    x = torch.zeros(2, 16)
    x[0, :8], x[1, 8:] = 1.0, 1.0
    xs, ys = x.repeat(4, 1), torch.tensor([0, 1]).repeat(4)
    g = torch.Generator().manual_seed(0)
    tr = run_pass(net, xs, ys, batch_size=8, generator=g)
    assert net.w_pe.dtype == dtype and tr.exc_counts.sum() > 0
    fired = tr.exc_counts.sum(0) > 0
    assert bool((net.theta[fired] > cfg.theta_init).all())  # the adaptive threshold grew where neurons fired
    te = run_pass(net, x, None, batch_size=2, generator=g)
    assert te.cla_counts.argmax(1).tolist() == [0, 1]


def test_fixed_hidden_layer_stage_learns_only_the_class_layer():
    """Layer by layer (reference FIXED_HIDDEN_LAYER): input weights and threshold stay, E->C is redrawn and learns."""
    cfg = SymSTDPConfig(n_in=16, n_exc=8, n_cla=2, dt=1.0, t_run=60.0, norm_pe=16.0, nu_ec=0.5, nu_pe=0.05,
                        min_spikes=1, max_intensity=4.0)
    net = SymSTDPNetwork(cfg, seed=0)
    x = torch.zeros(2, 16)
    x[0, :8], x[1, 8:] = 1.0, 1.0
    xs, ys = x.repeat(4, 1), torch.tensor([0, 1]).repeat(4)
    g = torch.Generator().manual_seed(0)
    run_pass(net, xs, ys, batch_size=8, generator=g)
    net.hidden_plastic = False
    net.reset_classifier(seed=3)
    assert float(net.w_ec.max()) < cfg.w_init_max
    net.normalize(train=True)
    w_pe, theta, w_ec = net.w_pe.clone(), net.theta.clone(), net.w_ec.clone()
    run_pass(net, xs.repeat(4, 1), ys.repeat(4), batch_size=8, generator=g)
    assert torch.equal(net.theta, theta)
    assert torch.allclose(net.w_pe, w_pe)  # only the (idempotent) normalisation touches them
    assert not torch.allclose(net.w_ec, w_ec)
    assert run_pass(net, x, None, batch_size=2, generator=g).cla_counts.argmax(1).tolist() == [0, 1]


def test_assignment_readout():
    counts = torch.tensor([[5.0, 0.0, 1.0], [0.0, 4.0, 0.0], [6.0, 1.0, 0.0]])
    ass = assign_labels(counts, torch.tensor([0, 1, 0]), 2)
    assert ass.tolist() == [0, 1, 0]
    assert assignment_predict(torch.tensor([[0.0, 3.0, 0.0], [2.0, 0.0, 2.0]]), ass, 2).tolist() == [1, 0]
    assert assign_labels(torch.zeros(2, 2), torch.tensor([0, 1]), 2).tolist() == [-1, -1]


def test_pixel_rates_reference_scale_and_mean_normalisation():
    cfg = SymSTDPConfig(n_in=4)
    assert pixel_rates(torch.tensor([[1.0, 0.5, 0.0, 0.0]]), cfg)[0, 0] == pytest.approx(255 / 8)
    r = pixel_rates(torch.tensor([[0.2, 0.2, 0.0, 0.0]]), SymSTDPConfig(n_in=4, image_mean=30.0))
    assert (r * 8).mean() == pytest.approx(30.0)
