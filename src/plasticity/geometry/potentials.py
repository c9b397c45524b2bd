"""Mirror-map potentials φ for mirror descent: ∇φ (primal -> dual) and its inverse (dual -> primal).

Mirror descent (Pogodin et al., ICLR 2024, eq. 2): ∇φ(w_{t+1}) = ∇φ(w_t) − η g_t. Euclidean φ = ½‖w‖² is
gradient descent; negative entropy φ = Σ|w|log|w| − |w| is exponentiated gradient (signs fixed);
p-norms φ = Σ|w|^p / p; hyperbolic entropy (Ghai et al. 2020) interpolates and lets weights change sign.
"""

from __future__ import annotations

import math

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

    def spec(self) -> dict[str, float | str]:
        return {"name": self.name, "p": self.p}

    def __repr__(self) -> str:
        return f"PNorm(p={self.p})"


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
