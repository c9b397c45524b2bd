"""Mirror-map potentials φ for mirror descent: ∇φ (primal -> dual) and its inverse (dual -> primal).

Mirror descent (Pogodin et al., ICLR 2024, eq. 2): ∇φ(w_{t+1}) = ∇φ(w_t) − η g_t. Euclidean φ = ½‖w‖² is
gradient descent; negative entropy φ = Σ|w|log|w| − |w| is exponentiated gradient (signs fixed);
p-norms φ = Σ|w|^p / p; hyperbolic entropy (Ghai et al. 2020) interpolates and lets weights change sign.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import ConfigError, check_choice, check_range


class Potential:
    """A separable mirror potential: ``grad`` is ∇φ, ``inverse`` is (∇φ)^{-1}; ``sign`` carries fixed signs."""

    name = "potential"
    preserves_sign = False

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def inverse(self, theta: torch.Tensor, sign: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def step_(self, w: torch.Tensor, d: torch.Tensor, lr: float, work: Any) -> None:
        """In place: ``w ← (∇φ)^{-1}(∇φ(w) − lr·d)``; ``work[i]`` are scratch tensors shaped like ``w``.

        Subclasses override it with an allocation-free form of the same arithmetic."""
        theta = self.grad(w).sub_(d, alpha=lr)
        w.copy_(self.inverse(theta, torch.sign(w) if self.preserves_sign else None))

    def update(self, w: torch.Tensor, d: torch.Tensor, lr: torch.Tensor | float) -> torch.Tensor:
        """Out of place: the new ``w`` of ``step_``, written as one elementwise expression so that
        ``torch.compile`` fuses it into a single loop (``MirrorDescent(compile=True)``)."""
        return self.inverse(self.grad(w) - lr * d, torch.sign(w) if self.preserves_sign else None)

    def spec(self) -> dict[str, float | str]:
        """A plain-data description (name + parameters) for state dicts; ``make_potential(**spec)`` rebuilds it."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Euclidean(Potential):
    """φ(w) = ½‖w‖²: ∇φ is the identity, so mirror descent is plain gradient descent."""

    name = "euclidean"

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        return w.clone()

    def inverse(self, theta: torch.Tensor, sign: torch.Tensor | None = None) -> torch.Tensor:
        return theta.clone()

    def step_(self, w: torch.Tensor, d: torch.Tensor, lr: float, work: Any) -> None:
        w.add_(d, alpha=-lr)

    def update(self, w: torch.Tensor, d: torch.Tensor, lr: torch.Tensor | float) -> torch.Tensor:
        return w - lr * d


class NegEntropy(Potential):
    """φ(w) = Σ|w|log|w| − |w|: ∇φ = sign(w)·log|w|; the update w ← w·exp(−η·sign(w)·g) never flips a sign."""

    name = "negentropy"
    preserves_sign = True

    def __init__(self, eps: float = 1e-30) -> None:
        self.eps = float(eps)

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        return torch.sign(w) * torch.log(w.abs().clamp_min(self.eps))

    def inverse(self, theta: torch.Tensor, sign: torch.Tensor | None = None) -> torch.Tensor:
        if sign is None:
            raise ConfigError("negentropy inverse needs the fixed sign pattern (argument 'sign')")
        return sign * torch.exp(sign * theta)

    def step_(self, w: torch.Tensor, d: torch.Tensor, lr: float, work: Any) -> None:
        """w ← w·exp(−lr·sign(w)·d) (exponentiated gradient; the sign never changes)."""
        sc = torch.sign(w, out=work[0])
        sc.mul_(d).mul_(-lr).exp_()
        w.mul_(sc)

    def update(self, w: torch.Tensor, d: torch.Tensor, lr: torch.Tensor | float) -> torch.Tensor:
        return w * torch.exp(torch.sign(w) * d * -lr)


class PNorm(Potential):
    """φ(w) = Σ|w|^p / p (p > 1): ∇φ = sign(w)|w|^{p−1}, inverse sign(θ)|θ|^{1/(p−1)}."""

    name = "pnorm"

    def __init__(self, p: float = 3.0) -> None:
        p = float(p)
        if not p > 1 or not math.isfinite(p):
            raise ConfigError(f"p={p!r} is out of range; allowed: p > 1 (p-norm potential)")
        self.p = p

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        return torch.sign(w) * w.abs().pow(self.p - 1)

    def inverse(self, theta: torch.Tensor, sign: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sign(theta) * theta.abs().pow(1.0 / (self.p - 1))

    def step_(self, w: torch.Tensor, d: torch.Tensor, lr: float, work: Any) -> None:
        """θ = sign(w)|w|^{p−1} − lr·d, w ← sign(θ)|θ|^{1/(p−1)} (same arithmetic as ``grad``/``inverse``)."""
        theta, mag = work[0], torch.abs(w, out=work[1])
        if self.p == 3.0:                                   # sign(w)|w|² = w|w| (sign flips round symmetrically)
            torch.mul(w, mag, out=theta)
        else:
            torch.copysign(_pow_(mag, self.p - 1), w, out=theta)
        theta.sub_(d, alpha=lr)
        torch.copysign(_pow_(torch.abs(theta, out=mag), 1.0 / (self.p - 1)), theta, out=w)

    def update(self, w: torch.Tensor, d: torch.Tensor, lr: torch.Tensor | float) -> torch.Tensor:
        theta = torch.copysign(_pow(w.abs(), self.p - 1), w) - lr * d
        return torch.copysign(_pow(theta.abs(), 1.0 / (self.p - 1)), theta)

    def spec(self) -> dict[str, float | str]:
        return {"name": self.name, "p": self.p}

    def __repr__(self) -> str:
        return f"PNorm(p={self.p})"


def _pow_(x: torch.Tensor, q: float) -> torch.Tensor:
    """In place x ← x^q for x ≥ 0: ``pow`` for q in {2, 0.5, 1, 3} (exact fast paths: square, sqrt, ...), otherwise
    exp(q·log x), about twice as fast on CPU as a general ``pow`` (within a few ulp of it)."""
    if q in (0.5, 1.0, 2.0, 3.0):
        return x.pow_(q)
    if q == 1.5:                                            # p = 2.5: x·sqrt(x), 5x cheaper than exp(q·log x)
        return x.mul_(x.sqrt())
    return x.log_().mul_(q).exp_()


def _pow(x: torch.Tensor, q: float) -> torch.Tensor:
    """Out of place ``_pow_`` (x ≥ 0): a general power as exp(q·log x), which inductor vectorises (``pow`` it
    does not)."""
    if q in (0.5, 1.0, 2.0, 3.0):
        return x**q
    if q == 1.5:
        return x * torch.sqrt(x)
    return torch.exp(q * torch.log(x))


class HypEntropy(Potential):
    """Hyperbolic entropy (Ghai et al. 2020): ∇φ = asinh(w/β), inverse β·sinh(θ); β→∞ is Euclidean, β→0 EG."""

    name = "hypentropy"

    def __init__(self, beta: float = 1.0) -> None:
        check_range("beta", float(beta), 0.0, None, low_inclusive=False)
        self.beta = float(beta)

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        return torch.asinh(w / self.beta)

    def inverse(self, theta: torch.Tensor, sign: torch.Tensor | None = None) -> torch.Tensor:
        return self.beta * torch.sinh(theta)

    def step_(self, w: torch.Tensor, d: torch.Tensor, lr: float, work: Any) -> None:
        """β·sinh(asinh(w/β) − c) with c = lr·d, without asinh/sinh (slow, not vectorised on CPU):
        w cosh c − sqrt(β² + w²) sinh c = ((w − r)·u + (w + r)/u) / 2 with r = sqrt(β² + w²), u = e^c."""
        r, u, a = work[0], work[1], work[2]
        torch.mul(w, w, out=r).add_(self.beta * self.beta).sqrt_()
        torch.mul(d, lr, out=u).exp_()
        torch.sub(w, r, out=a).mul_(u)
        r.add_(w).div_(u)
        torch.add(a, r, out=w).mul_(0.5)

    def update(self, w: torch.Tensor, d: torch.Tensor, lr: torch.Tensor | float) -> torch.Tensor:
        r = torch.sqrt(w * w + self.beta * self.beta)
        u = torch.exp(d * lr)
        return ((w - r) * u + (w + r) / u) * 0.5

    def spec(self) -> dict[str, float | str]:
        return {"name": self.name, "beta": self.beta}

    def __repr__(self) -> str:
        return f"HypEntropy(beta={self.beta})"


POTENTIALS = {"euclidean": Euclidean, "negentropy": NegEntropy, "pnorm": PNorm, "hypentropy": HypEntropy}


def make_potential(potential: str | Potential | dict[str, float | str], **kwargs: float) -> Potential:
    """A ``Potential`` from its name (``euclidean``, ``negentropy``, ``pnorm``, ``hypentropy``) or as given.

    ``"pnorm3"``/``"3-norm"`` style names set p; ``"2-norm"`` is Euclidean.
    """
    if isinstance(potential, Potential):
        return potential
    if isinstance(potential, dict):
        spec = dict(potential)
        return make_potential(str(spec.pop("name", "")), **{k: float(v) for k, v in spec.items()}, **kwargs)
    if not isinstance(potential, str):
        raise ConfigError(f"potential must be a name or Potential, got {type(potential).__name__}; "
                          f"allowed: {', '.join(sorted(POTENTIALS))}")
    name = potential.lower()
    if name.endswith("-norm") and name[:-5].replace(".", "", 1).isdigit():
        p = float(name[:-5])
        return Euclidean() if p == 2 else PNorm(p)
    if name.startswith("pnorm") and name[5:].replace(".", "", 1).isdigit():
        return PNorm(float(name[5:]))
    check_choice("potential", name, POTENTIALS)
    return POTENTIALS[name](**kwargs)
