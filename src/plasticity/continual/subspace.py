"""Principal subspaces of layer activity: the lateral Hebbian learner of HLOP and the exact-SVD reference.

HLOP (Xiao et al., ICLR 2024, Sec. 4.1): lateral neurons y = M x read the presynaptic activity x and feed
back -M^T y; Hebbian (y x^T) plus anti-Hebbian (-y y^T M) plasticity on the lateral weights is Oja's
subspace rule  dM = eta * y (x - M^T y)^T  (``rule='oja'``, as the reference code), whose stable fixed
points are orthonormal bases of the top principal subspace of E[x x^T] (Oja 1989). The default
``rule='gha'`` is Sanger's generalised Hebbian algorithm, dM = eta * (y x^T - tril(y y^T) M): the
anti-Hebbian feedback to neuron i comes only from neurons j <= i, so rows converge to the individual
principal directions and a per-neuron rate (1 / its own output power) makes weak components learn as fast
as strong ones. Components of earlier tasks stay fixed while new ones learn the residual, so the lateral
circuit computes x - M^T M x: the activity orthogonal to everything stored.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError, DivergenceError, check_choice, check_range


def check_components(name: str, total: int, n_features: int) -> None:
    """Raise ``ConfigError`` when a layer would hold more subspace components than it has inputs."""
    if total > n_features:
        raise ConfigError(f"layer {name!r}: {total} subspace components requested in total but it has only "
                          f"{n_features} inputs; allowed: at most {n_features} components (lower 'components')")


class HebbianSubspace:
    """Lateral weights ``weight`` (k x n), rows added per task and trained by Sanger's or Oja's rule.

    ``lr`` is relative: with ``normalize`` each lateral neuron divides it by its own running output power
    E[y_i^2] (a per-neuron homeostatic rate, as in Yang's PAST subspace tracker), floored at ``floor`` times
    the input power; without, by the mean input power E||x||^2 (>= the top eigenvalue). Either way the
    result does not depend on the input scale; ``momentum`` smooths the updates (0.9 in the reference code) and ``iterations``
    repeats the update on each batch (5 in the reference). Only rows added since the last ``freeze``
    learn; frozen rows still take part in the reconstruction M^T y, so new rows learn the residual.
    ``anneal`` lowers the rate linearly over the epochs of a ``fit`` (to lr/(epochs+1)), which averages out
    the minibatch noise around the fixed point.
    """

    def __init__(self, n_features: int, lr: float = 0.1, momentum: float = 0.9, iterations: int = 1,
                 anneal: bool = True, normalize: bool = True, floor: float = 1e-3, rule: str = "gha",
                 seed: int = 0, name: str = "layer") -> None:
        check_range("n_features", n_features, 1)
        self.n_features = int(n_features)
        self.lr = check_range("lr", lr, 0.0, low_inclusive=False)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
        self.iterations = int(check_range("iterations", iterations, 1))
        self.anneal = bool(anneal)
        self.normalize = bool(normalize)
        self.rule = check_choice("rule", rule, ("gha", "oja"))
        self.floor = check_range("floor", floor, 0.0, low_inclusive=False)
        self.name = name
        self._gen = torch.Generator().manual_seed(int(seed))
        self.weight = torch.zeros(0, self.n_features)
        self.velocity = torch.zeros(0, self.n_features)
        self.n_fixed = 0

    @property
    def n_components(self) -> int:
        return self.weight.shape[0]

    def add_components(self, k: int) -> None:
        """Append ``k`` plastic rows, initialised orthonormal and orthogonal to the existing rows."""
        k = int(check_range("components", k, 0))
        if k == 0:
            return
        check_components(self.name, self.n_components + k, self.n_features)
        dev = self.weight.device
        new = torch.randn(self.n_features, k, generator=self._gen).to(dev)
        if self.n_components:
            old = torch.linalg.qr(self.weight.t())[0]
            new = new - old @ (old.t() @ new)
        q = torch.linalg.qr(new)[0].t()
        self.weight = torch.cat([self.weight, q.to(self.weight.dtype)])
        self.velocity = torch.cat([self.velocity, torch.zeros_like(q)])

    def freeze(self) -> None:
        """Fix all current rows (end of a task)."""
        self.n_fixed = self.n_components
        self.velocity.zero_()

    def to(self, device: torch.device | str) -> HebbianSubspace:
        self.weight, self.velocity = self.weight.to(device), self.velocity.to(device)
        return self

    @torch.no_grad()
    def update(self, x: torch.Tensor, step: float | torch.Tensor, clamp: float | None = None) -> torch.Tensor:
        """One Hebbian step on a batch ``x`` (B x n) for the plastic rows (GHA or Oja, see the module doc).

        ``step`` is a number or one rate per plastic row (k_new x 1); ``clamp`` bounds each entry of the
        change before momentum (+-10 in the reference code); returns the rows' output power E[y^2].
        """
        m, f = self.weight, self.n_fixed
        y = x @ m.t()
        yn = y[:, f:]
        if self.rule == "oja":
            dw = yn.t() @ (x - y @ m) / x.shape[0]
        else:                                   # Sanger: row i reconstructs with rows j <= i only
            dw = (yn.t() @ x - torch.tril(yn.t() @ y, diagonal=f) @ m) / x.shape[0]
        if clamp is not None:
            dw = dw.clamp_(-clamp, clamp)
        v = self.velocity[self.n_fixed :]
        v.mul_(self.momentum).add_(dw, alpha=1 - self.momentum)
        m[self.n_fixed :] += step * v
        return yn.pow(2).mean(0)

    @torch.no_grad()
    def fit(self, x: torch.Tensor, epochs: int = 10, batch_size: int = 64, min_steps: int = 500) -> HebbianSubspace:
        """Train the plastic rows on activity ``x`` (N x n) for ``epochs`` passes in shuffled minibatches.

        Small activity sets get more passes, so that at least ``min_steps`` minibatch updates are made.
        """
        if x.dim() != 2 or x.shape[1] != self.n_features:
            raise ConfigError(f"layer {self.name!r}: activity of shape {tuple(x.shape)} does not match "
                              f"n_features={self.n_features}")
        if self.n_components == self.n_fixed or x.shape[0] == 0:
            return self
        self.to(x.device)
        x = x.to(self.weight.dtype)
        power = float(x.pow(2).sum(1).mean())
        if not math.isfinite(power) or power <= 0:
            return self
        # each lateral neuron's own output power (a running trace), floored at a fraction of the input power
        out_power = torch.full((self.n_components - self.n_fixed, 1), power, device=x.device, dtype=x.dtype)
        floor = power * self.floor
        epochs = max(int(epochs), -(-int(min_steps) // max(1, -(-x.shape[0] // int(batch_size)))))
        for e in range(epochs):
            scale = self.lr * (1.0 - e / (epochs + 1)) if self.anneal else self.lr
            order = torch.randperm(x.shape[0], generator=self._gen).to(x.device)
            for i in range(0, x.shape[0], int(batch_size)):
                xb = x[order[i : i + int(batch_size)]]
                for _ in range(self.iterations):
                    step = scale / (out_power.clamp_min(floor) if self.normalize else power)
                    p = self.update(xb, step)
                    out_power.mul_(0.9).add_(p.unsqueeze(1), alpha=0.1)
            if not bool(torch.isfinite(self.weight).all()):
                raise DivergenceError(f"layer {self.name!r}: lateral Hebbian weights became non-finite in epoch "
                                      f"{e + 1} of {epochs}; lower lr (now {self.lr}) or use normalize=True")
        return self

    def project_out(self, g: torch.Tensor) -> torch.Tensor:
        """``g (I - M^T M)``: rows of ``g`` (… x n) with the stored subspace removed, as the lateral circuit does."""
        m = self.weight.to(g)
        return g - (g @ m.t()) @ m

    def basis(self) -> torch.Tensor:
        """An orthonormal basis (n x k) of the row space of the lateral weights (for diagnostics)."""
        return torch.linalg.qr(self.weight.t())[0]

    def state_dict(self) -> dict[str, object]:
        return {"weight": self.weight.detach().cpu().clone(), "velocity": self.velocity.detach().cpu().clone(),
                "n_fixed": self.n_fixed, "rng": self._gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        w = state["weight"]
        if w.dim() != 2 or w.shape[1] != self.n_features:
            raise ConfigError(f"layer {self.name!r}: saved lateral weights have shape {tuple(w.shape)}, "
                              f"expected (k, {self.n_features})")
        self.weight, self.velocity = w.clone(), state["velocity"].clone()
        self.n_fixed = int(state["n_fixed"])
        self._gen.set_state(state["rng"])


@torch.no_grad()
def svd_components(x: torch.Tensor, k: int, basis: torch.Tensor | None = None) -> torch.Tensor:
    """The top ``k`` principal directions (k x n, orthonormal rows) of ``x`` (N x n) after removing ``basis``.

    Exact reference for HLOP (as GPM, Saha et al. 2021, without its energy threshold): eigenvectors of the
    uncentred second moment of the residual x - x B^T B, orthogonal to the rows of ``basis`` (r x n).
    """
    x = x.double()
    if basis is not None and basis.numel():
        b = basis.to(x)
        x = x - (x @ b.t()) @ b
    gram = x.t() @ x / max(x.shape[0], 1)
    evals, evecs = torch.linalg.eigh(gram)
    top = evecs[:, torch.argsort(evals, descending=True)[: int(k)]].t()
    if basis is not None and basis.numel():          # re-orthogonalise against the old rows (round-off)
        b = basis.to(top)
        top = top - (top @ b.t()) @ b
        top = torch.linalg.qr(top.t())[0].t()
    return top.float()


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles in degrees (ascending) between the column spans of ``a`` (n x p) and ``b`` (n x q)."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ConfigError(f"principal_angles needs two n x k matrices with equal n, got {tuple(a.shape)} "
                          f"and {tuple(b.shape)}")
    qa = torch.linalg.qr(a.double())[0]
    qb = torch.linalg.qr(b.double().to(a.device))[0]
    s = torch.linalg.svdvals(qa.t() @ qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(s)).float()


def captured_energy(x: torch.Tensor, rows: torch.Tensor) -> float:
    """Fraction of the activity energy ||x||^2 inside the span of ``rows`` (k x n, any basis)."""
    if rows.numel() == 0:
        return 0.0
    q = torch.linalg.qr(rows.t().double())[0]
    xd = x.double()
    total = float(xd.pow(2).sum())
    return float((xd @ q).pow(2).sum()) / total if total > 0 else 0.0
