"""Equilibrium propagation on ``EnergyNet`` substrates: classic, symmetric, holomorphic and generalized EP.

A free phase relaxes the network for T1 steps to s*; nudged phases relax T2 steps from s* with the readout cost
added to the energy with strength beta_k. The gradient is the derivative of ``dE/dtheta`` with respect to beta at 0:

* one-sided (Scellier & Bengio 2017): ``(dE/dtheta(s^beta, beta) - dE/dtheta(s*, 0)) / beta``, bias O(beta);
* symmetric (Laborieux et al. 2021): the same with +beta and -beta, bias O(beta^2);
* holomorphic (Laborieux & Zenke, NeurIPS 2022, eq. 6): ``Re (1/N) sum_k dE/dtheta(s^{beta_k}, beta_k) / beta_k``
  with beta_k = |beta| e^{2 pi i k / N} (a discrete Cauchy integral; bias O(|beta|^N)); N = 0 takes the exact limit
  by forward-mode differentiation of the nudged relaxation.

The *energy* form contrasts ``dE/dtheta`` (a local rule; needs symmetric feedback). The *vector-field* form
(generalized EP, Laborieux & Zenke, ICLR 2024, eq. 5) estimates ``ds/dbeta`` from the same phases and returns
``dC/dtheta - (dG/dtheta)^T ds/dbeta``; it equals the gradient when the Jacobian ``J = dG/ds`` is symmetric and is
biased otherwise. ``homeostasis > 0`` adds the Jacobian-homeostasis penalty ``(||J e||^2 - e.J^2 e) / n`` with
random probes e (an unbiased estimate of ||J - J^T||_F^2 / 2n). Everything is left in ``.grad``.
"""

from __future__ import annotations

import cmath
import math
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, check_choice, check_range
from ..models.energy import EnergyNet, State, holo_cost, n_units
from .base import LearningRule, StepReport, UnsupportedModelError

NUDGES = ("one_sided", "symmetric", "holomorphic")
FORMS = ("auto", "energy", "vector_field")


class EquilibriumPropagation(LearningRule):
    """EP on an ``EnergyNet``: ``nudge`` in one_sided/symmetric/holomorphic (``n`` complex nudges), ``beta`` the
    nudge strength (radius of the circle for hEP), ``form`` energy/vector_field (auto: energy when the network is
    symmetric), ``homeostasis`` the weight of the Jacobian-homeostasis penalty (``n_probes`` probes per sample).
    ``n=0`` with the holomorphic nudge is the exact beta -> 0 limit (vector-field form, forward-mode AD).
    """

    name = "ep"
    supports_bf16 = False
    substrate = "energy"

    def __init__(self, beta: float = 0.1, nudge: str = "one_sided", n: int | None = None, form: str = "auto",
                 homeostasis: float = 0.0, n_probes: int = 1, loss: str = "auto", seed: int = 0) -> None:
        super().__init__(loss=loss, seed=seed)
        self.nudge = check_choice("nudge", nudge, NUDGES)
        self.form = check_choice("form", form, FORMS)
        self.beta = float(beta)
        default_n = {"one_sided": 1, "symmetric": 2, "holomorphic": 4}[nudge]
        self.n = default_n if n is None else int(check_range("n", n, 0))
        if nudge != "holomorphic" and self.n != default_n:
            raise ConfigError(f"n={n!r} is only configurable with nudge='holomorphic'; {nudge} uses n={default_n}")
        if nudge == "holomorphic" and self.n in (1, 2):
            raise ConfigError(f"n={n!r}: use nudge='one_sided' (n=1) or 'symmetric' (n=2); holomorphic needs n=0 or >= 3")
        if self.n != 0 and self.beta == 0.0:
            raise ConfigError("beta=0.0 is out of range; allowed: any non-zero value (or n=0 for the exact limit)")
        self.homeostasis = float(check_range("homeostasis", homeostasis, 0.0))
        self.n_probes = int(check_range("n_probes", n_probes, 1))
        self._steps = 0

    def _prepare(self, model: nn.Module) -> None:
        if not isinstance(model, EnergyNet):
            raise UnsupportedModelError(f"rule {self.name!r} needs an energy-based network (plasticity.models.EnergyMLP / "
                              f"EnergyConvNet), got {type(model).__name__}")

    def resolved_form(self, model: EnergyNet) -> str:
        if self.form == "auto":
            return "energy" if model.symmetric and self.n != 0 else "vector_field"
        if self.form == "energy" and (not model.symmetric or self.n == 0):
            raise ConfigError("form='energy' needs symmetric feedback and n >= 1; use form='vector_field'")
        return self.form

    # -- phases -----------------------------------------------------------------------------------------
    def phases(self, model: EnergyNet, x: torch.Tensor, y: torch.Tensor, s0: State) -> list[tuple[Any, complex, State]]:
        """(beta_k, weight c_k, nudged state) with ``d/dbeta f ~= Re sum_k c_k f(beta_k)``.

        Noise-free holomorphic runs use the conjugate symmetry s(conj b) = conj s(b): only k <= N/2 is relaxed.
        """
        t2, b = model.T2, self.beta
        if self.nudge == "one_sided":
            return [(b, 1 / b, model.relax(x, y, b, t2, s0)), (0.0, -1 / b, s0)]
        if self.nudge == "symmetric":
            return [(b, 0.5 / b, model.relax(x, y, b, t2, s0)), (-b, -0.5 / b, model.relax(x, y, -b, t2, s0))]
        n = self.n
        noisy = model.training and model.sigma > 0
        out = []
        ks = range(n) if noisy else range(n // 2 + 1)
        for k in ks:
            bk = b * cmath.exp(2j * math.pi * k / n)
            ck = 1 / (n * bk)
            if not noisy and 0 < k and 2 * k != n:
                ck *= 2  # k and N-k are complex conjugates: their real parts add up
            if (2 * k) % n == 0:  # real nudge (k = 0 or k = N/2)
                bk = float(bk.real)
            out.append((bk, ck, model.relax(x, y, bk, t2, s0)))
        return out

    def state_derivative(self, model: EnergyNet, x: torch.Tensor, y: torch.Tensor, s0: State,
                         phases: list[tuple[Any, complex, State]] | None) -> State:
        """Estimate of ds/dbeta at the free fixed point: ``Re sum_k c_k s_k`` or, for n=0, forward-mode AD."""
        if phases is None:
            def nudged(beta: torch.Tensor) -> tuple[torch.Tensor, ...]:
                return tuple(model.relax(x, y, beta, model.T2, s0))
            zero = torch.zeros((), device=x.device, dtype=x.dtype)
            _, tangent = torch.func.jvp(nudged, (zero,), (torch.ones_like(zero),))
            return [t.detach() for t in tangent]
        sdot = [torch.zeros_like(t) for t in s0]
        for _, ck, sk in phases:
            c = complex(ck)
            for i, t in enumerate(sk):
                sdot[i] = sdot[i] + ((c * t).real if t.is_complex() else c.real * t)
        return sdot

    # -- the step ---------------------------------------------------------------------------------------
    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        assert isinstance(model, EnergyNet)
        form = self.resolved_form(model)
        batch = x.shape[0]
        with torch.no_grad():
            s0 = model.relax(x, steps=model.T1)
            phases = None if self.n == 0 else self.phases(model, x, y, s0)
        if form == "energy":
            assert phases is not None
            for bk, ck, sk in phases:
                e = model.energy(x, [t.detach() for t in sk], y, bk).sum() / batch
                w = complex(ck).conjugate() if e.is_complex() else float(complex(ck).real)
                e.backward(torch.tensor(w, dtype=e.dtype, device=e.device))
        else:
            sdot = self.state_derivative(model, x, y, s0, phases)
            with torch.enable_grad():
                xs = model.prepare_input(x)
                g = model.drive(xs, s0)
                cost = model.cost(s0, y).sum()
                total = (cost - sum((gi * di).sum() for gi, di in zip(g, sdot, strict=True))) / batch
                total.backward()
        metrics: dict[str, float] = {}
        if self.homeostasis > 0:
            metrics["homeostasis_loss"] = self._homeostasis(model, x, s0)
        self._steps += 1
        with torch.no_grad():
            out = model.logits(s0)
            loss = holo_cost(out, y)[0].mean()
            metrics["free_residual"] = float(model.residual(x, s0).mean())
        return StepReport(loss=loss, output=out, metrics=metrics)

    def state_dict(self) -> dict[str, Any]:
        """Adds the step counter that seeds the homeostasis probes (bit-identical resumes)."""
        return {**super().state_dict(), "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._steps = int(state.get("steps", self._steps))

    def _homeostasis(self, model: EnergyNet, x: torch.Tensor, s0: State) -> float:
        """Add ``homeostasis * grad`` of the probe estimate of ||J - J^T||^2 / (2n) to ``.grad``; return its value."""
        gen = torch.Generator(device="cpu").manual_seed(self.seed * 7919 + self._steps)
        loss = homeostasis_loss(model, x, s0, n_probes=self.n_probes, generator=gen)
        if loss.requires_grad:  # with one hidden layer J is diagonal (symmetric): nothing to penalise
            (self.homeostasis * loss).backward()
        return float(loss.detach())


def homeostasis_loss(model: EnergyNet, x: torch.Tensor, s: State, n_probes: int = 1,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Jacobian-homeostasis objective (Laborieux & Zenke 2024, eq. 8): mean over Gaussian probes e of
    ``(||J e||^2 - e . J J e) / n``, whose expectation is ``||J - J^T||_F^2 / (2n)``; differentiable in the weights."""
    s = [t.detach().repeat(n_probes, *([1] * (t.dim() - 1))) for t in s]
    xs = x.repeat(n_probes, *([1] * (x.dim() - 1)))
    eps = [torch.randn(t.shape, generator=generator).to(t) for t in s]
    with torch.enable_grad():
        je = model.jacobian_vector(xs, s, eps)
        jje = model.jacobian_vector(xs, s, je)
        sq = sum(t.pow(2).flatten(1).sum(1) for t in je)
        cross = sum((e * t).flatten(1).sum(1) for e, t in zip(eps, jje, strict=True))
        return ((sq - cross) / n_units(s)).mean()


class ClassicEP(EquilibriumPropagation):
    """One-sided EP (Scellier & Bengio 2017)."""

    name = "ep"

    def __init__(self, beta: float = 0.1, form: str = "auto", homeostasis: float = 0.0, n_probes: int = 1,
                 loss: str = "auto", seed: int = 0) -> None:
        super().__init__(beta=beta, nudge="one_sided", form=form, homeostasis=homeostasis, n_probes=n_probes,
                         loss=loss, seed=seed)


class SymmetricEP(EquilibriumPropagation):
    """EP with +beta / -beta nudges (Laborieux et al. 2021)."""

    name = "ep-sym"

    def __init__(self, beta: float = 0.1, form: str = "auto", homeostasis: float = 0.0, n_probes: int = 1,
                 loss: str = "auto", seed: int = 0) -> None:
        super().__init__(beta=beta, nudge="symmetric", form=form, homeostasis=homeostasis, n_probes=n_probes,
                         loss=loss, seed=seed)


class HolomorphicEP(EquilibriumPropagation):
    """hEP: N complex nudges on a circle of radius |beta| (Laborieux & Zenke 2022); n=0 is the exact limit."""

    name = "hep"

    def __init__(self, beta: float = 0.5, n: int = 4, form: str = "auto", homeostasis: float = 0.0,
                 n_probes: int = 1, loss: str = "auto", seed: int = 0) -> None:
        super().__init__(beta=beta, nudge="holomorphic", n=n, form=form, homeostasis=homeostasis,
                         n_probes=n_probes, loss=loss, seed=seed)


class GeneralizedEP(EquilibriumPropagation):
    """Generalized (vector-field) hEP for non-symmetric networks, optionally with Jacobian homeostasis (2024)."""

    name = "gep"

    def __init__(self, beta: float = 0.5, n: int = 4, homeostasis: float = 0.0, n_probes: int = 1,
                 loss: str = "auto", seed: int = 0) -> None:
        nudge = {1: "one_sided", 2: "symmetric"}.get(n, "holomorphic")
        super().__init__(beta=beta, nudge=nudge, n=None if n in (1, 2) else n, form="vector_field",
                         homeostasis=homeostasis, n_probes=n_probes, loss=loss, seed=seed)


# the EP variants by registry name (``rules.registry.BUILTIN`` lists the same classes)
EP_RULES: dict[str, Any] = {"ep": ClassicEP, "ep-sym": SymmetricEP, "hep": HolomorphicEP, "gep": GeneralizedEP}
