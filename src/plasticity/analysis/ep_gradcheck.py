"""Gradient check for equilibrium propagation: a rule's ``.grad`` against BPTT on the same energy network,
as a cosine per layer (Laborieux & Zenke 2022, Fig. 3c), and the Jacobian (a)symmetry at the fixed point (2024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.energy import EnergyNet, State, holo_cost


def bptt_gradients(model: EnergyNet, x: torch.Tensor, y: torch.Tensor, steps: int | None = None) -> dict[str, torch.Tensor]:
    """Gradient of the mean readout cost after ``steps`` (default T1) free relaxation steps, by backprop through
    time (noise-free). For converged dynamics this equals recurrent backprop / implicit differentiation."""
    params = dict(model.named_parameters())
    with torch.enable_grad():
        s = model.relax(x, steps=steps, noise=0.0)
        loss = holo_cost(model.logits(s), y)[0].mean()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {n: (g if g is not None else torch.zeros_like(p)).detach() for (n, p), g in zip(params.items(), grads, strict=True)}


def rule_gradients(rule, model: EnergyNet, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``rule.step`` once and return a copy of every parameter's ``.grad`` (zeros where it left None)."""
    rule.step(model, x, y)
    out = {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
           for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return out


def layer_cosines(est: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> dict[str, float]:
    """Cosine similarity per layer (a module's weight and bias concatenated) and over all parameters ('total')."""
    groups: dict[str, list[str]] = {}
    for name in ref:
        groups.setdefault(name.rsplit(".", 1)[0], []).append(name)
    out = {}
    for layer, names in groups.items():
        a = torch.cat([est[n].flatten() for n in names]).double()
        b = torch.cat([ref[n].flatten() for n in names]).double()
        out[layer] = float(F.cosine_similarity(a, b, dim=0))
    a = torch.cat([est[n].flatten() for n in ref]).double()
    b = torch.cat([ref[n].flatten() for n in ref]).double()
    out["total"] = float(F.cosine_similarity(a, b, dim=0))
    return out


def ep_gradient_check(rule, model: EnergyNet, x: torch.Tensor, y: torch.Tensor,
                      bptt_steps: int | None = None) -> dict[str, float]:
    """Cosine per layer between ``rule``'s estimate and BPTT's gradient on the same batch and network.

    BPTT runs ``bptt_steps`` (default T1) steps; the rule relaxes with the model's own T1/T2 (and its noise when
    the model is in training mode). Returns ``{layer: cosine, ..., 'total': cosine}``.
    """
    ref = bptt_gradients(model, x, y, bptt_steps)
    est = rule_gradients(rule, model, x, y)
    return layer_cosines(est, ref)


def jacobian_matrix(model: EnergyNet, x: torch.Tensor, s: State | None = None) -> torch.Tensor:
    """The Jacobian ``J = dG/ds`` of the drive at the free fixed point of the first sample of ``x`` (n x n)."""
    x1 = x[:1]
    with torch.no_grad():
        s = model.relax(x1, noise=0.0) if s is None else [t[:1] for t in s]
        sizes = [t[0].numel() for t in s]
        n = sum(sizes)
        eye = torch.eye(n, device=x.device, dtype=s[0].dtype)
        probes, start = [], 0
        for t, k in zip(s, sizes, strict=True):
            probes.append(eye[:, start:start + k].reshape(n, *t.shape[1:]))
            start += k
        xs = x1.expand(n, *x1.shape[1:])
        st = [t.expand(n, *t.shape[1:]) for t in s]
        cols = model.jacobian_vector(xs, st, probes)  # row i = J e_i = column i of J
    return torch.cat([c.reshape(n, -1) for c in cols], 1).t()


def jacobian_asymmetry(model: EnergyNet, x: torch.Tensor, s: State | None = None) -> float:
    """``||J - J^T||_F / (2 ||J||_F)`` = ||antisymmetric part|| / ||J||: 0 for symmetric feedback, ~0.71 for
    independent random feedback of the same scale, 1 for an antisymmetric J."""
    j = jacobian_matrix(model, x, s)
    norm = float(j.norm())
    return float((j - j.t()).norm()) / (2 * norm) if norm > 0 else 0.0
