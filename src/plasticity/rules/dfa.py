"""Direct feedback alignment (Nøkland 2016) and its optical variant (Launay et al. 2020).

DFA sends the output error e = dL/dŷ straight to every hidden layer through a fixed random
matrix: the input x_l of each plastic layer except the first gets the gradient ``B_l e`` (instead of
the backpropagated one), so layer l-1 learns from ``δ_{l-1} = (B_l e) ⊙ f'(a_{l-1})``. The last
layer's update equals backprop's. Implementation: each hidden layer's input is detached in the
forward pass and the injections are pushed through one ``autograd.backward`` call, so no
``Wᵀδ`` products are computed at all.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import check_range
from .base import LearningRule, StepReport, plastic_layers


class OpticalProjection:
    """Simulated optical random projection (Launay et al. 2020, "Hardware beyond backpropagation").

    The error is ternarised and displayed as two binary frames e+ and e− (an entry is on when its
    part of e exceeds ``threshold`` x that frame's peak). A fixed complex Gaussian medium R scatters each frame
    together with a fixed reference pattern on ``n_ref`` extra pixels; a camera reads intensities
    |R(v ⊕ a)|² with ``bits`` of depth (per-frame auto-exposure) and Gaussian read noise of
    ``noise`` x full scale. The linear part Re(conj(R a) ⊙ R v) is recovered as
    (I(v⊕a) − I(v) − I(a))/2 and the projection is s+ P(e+) − s− P(e−), with per-frame scalars s± = ‖e±‖/‖frame±‖ (known digitally).
    """

    def __init__(self, bits: int = 8, noise: float = 0.01, threshold: float = 0.15, n_ref: int = 16,
                 rescale: bool = True) -> None:
        self.bits = int(check_range("bits", bits, 1, 16))
        self.noise = check_range("noise", noise, 0.0)
        self.threshold = check_range("threshold", threshold, 0.0, 1.0, high_inclusive=False)
        self.n_ref = int(check_range("n_ref", n_ref, 1))
        self.rescale = rescale

    def ternarise(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Split e into binary frames e+ and e− (entries above ``threshold`` x that frame's peak) and return
        them with the per-sample factors ‖e±‖/‖frame±‖ that restore each frame's norm digitally."""
        frames, scales = [], []
        for part in (e.clamp_min(0), (-e).clamp_min(0)):
            peak = part.amax(dim=1, keepdim=True)
            t = ((part > self.threshold * peak) & (part > 0)).to(e.dtype)
            frames.append(t)
            scales.append(part.norm(dim=1, keepdim=True) / t.norm(dim=1, keepdim=True).clamp_min(1.0))
        return frames[0], frames[1], torch.cat(scales, 1)

    def camera(self, intensity: torch.Tensor, full_scale: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        """Quantise to ``bits`` levels of ``full_scale`` and add read noise."""
        levels = 2**self.bits - 1
        q = torch.round((intensity / full_scale).clamp(0, 1) * levels) / levels * full_scale
        if self.noise > 0:
            noise = torch.randn(q.shape, generator=gen, device="cpu", dtype=q.dtype).to(q.device)
            q = q + self.noise * full_scale * noise
        return q

    def project(self, e: torch.Tensor, medium: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Project the error e (batch, n_out) through ``medium`` (features, n_out + n_ref), complex."""
        n_out = e.shape[1]
        r_v, r_a = medium[:, :n_out], medium[:, n_out:]
        ref = r_a.sum(1)                                      # R a for an all-ones reference pattern
        i_ref = ref.abs() ** 2
        pos, neg, scales = self.ternarise(e)
        out = torch.zeros(e.shape[0], medium.shape[0], device=e.device, dtype=e.dtype)
        for k, (sign, frame) in enumerate(((1.0, pos), (-1.0, neg))):
            v = frame.to(medium.dtype)
            field = v @ r_v.t()
            i_v = field.abs() ** 2
            i_va = (field + ref).abs() ** 2
            full = i_va.amax(dim=1, keepdim=True).clamp_min(1e-12)    # auto-exposure per frame
            lin = 0.5 * (self.camera(i_va, full, gen) - self.camera(i_v, full, gen) - i_ref)
            out = out + sign * lin.to(e.dtype) * (scales[:, k : k + 1] if self.rescale else 1.0)
        # Re(conj(r) R_v) has std sqrt(n_ref/2)/features for a medium of variance 1/features: bring it to
        # the digital DFA scale 1/sqrt(features).
        return out * (math.sqrt(medium.shape[0]) / math.sqrt(self.n_ref / 2))


class DirectFeedbackAlignment(LearningRule):
    """DFA: every hidden layer receives ``B_l e`` with a fixed random ``B_l`` (features_l x n_out).

    ``feedback_scale`` multiplies the default B entries (uniform, std 1/sqrt(features_l)).
    ``optical`` (an ``OpticalProjection``) replaces the digital projection by the simulated optical one.
    """

    name = "dfa"

    def __init__(self, loss: str = "auto", seed: int = 0, feedback_scale: float = 1.0,
                 optical: OpticalProjection | None = None) -> None:
        super().__init__(loss=loss, seed=seed)
        self.feedback_scale = check_range("feedback_scale", feedback_scale, 0.0, low_inclusive=False)
        self.optical = optical
        self._taps: list[tuple[str, torch.Tensor]] = []
        self._noise_gen = torch.Generator().manual_seed(self.seed + 7919)

    def _prepare(self, model: nn.Module) -> None:
        for name, module in plastic_layers(model):
            self._handles.append(module.register_forward_pre_hook(self._make_hook(name)))

    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple):
            if not self._active or not torch.is_grad_enabled():
                return None
            x = inputs[0]
            if not x.requires_grad:          # the network input: nothing to inject
                return None
            self._taps.append((name, x))
            return (x.detach(), *inputs[1:])
        return hook

    def _matrix(self, name: str, features: int, n_out: int, like: torch.Tensor) -> torch.Tensor:
        """The fixed feedback for tap ``name``: real (features, n_out) or, if optical, a complex medium."""
        key = f"B.{name}"
        b = self.buffers.get(key)
        if b is None:
            g = torch.Generator().manual_seed(self.seed * 1000003 + 17 + len(self.buffers))
            if self.optical is None:
                b = (torch.rand(features, n_out, generator=g) * 2 - 1) * math.sqrt(3.0 / features)
            else:
                cols = n_out + self.optical.n_ref
                re, im = torch.randn(2, features, cols, generator=g) / math.sqrt(2.0)
                b = torch.complex(re, im) / math.sqrt(features)
            self.buffers[key] = b
        if b.device != like.device:
            b = self.buffers[key] = b.to(like.device)
        return b

    def step(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        self._taps = []
        try:
            return super().step(model, x, y)
        finally:
            self._taps = []

    def _backward(self, model: nn.Module, output: torch.Tensor, loss: torch.Tensor, y: torch.Tensor) -> None:
        (e,) = torch.autograd.grad(loss, output, retain_graph=True)
        e2 = e.reshape(e.shape[0], -1)
        tensors, grads = [output], [e]
        for name, tap in self._taps:
            feats = tap[0].numel()
            b = self._matrix(name, feats, e2.shape[1], tap)
            if self.optical is None:
                inj = e2 @ b.t()
            else:
                inj = self.optical.project(e2, b, self._noise_gen)
            tensors.append(tap)
            grads.append((self.feedback_scale * inj).reshape(tap.shape).to(tap.dtype))
        torch.autograd.backward(tensors, grads)

    def state_dict(self):
        state = super().state_dict()
        state["noise_rng"] = self._noise_gen.get_state()
        return state

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        if "noise_rng" in state:
            self._noise_gen.set_state(state["noise_rng"])


def OpticalDFA(loss: str = "auto", seed: int = 0, bits: int = 8, noise: float = 0.01,
               threshold: float = 0.15, n_ref: int = 16, feedback_scale: float = 1.0) -> DirectFeedbackAlignment:
    """DFA with the simulated optical co-processor of Launay et al. (2020)."""
    rule = DirectFeedbackAlignment(loss=loss, seed=seed, feedback_scale=feedback_scale,
                                   optical=OpticalProjection(bits=bits, noise=noise, threshold=threshold, n_ref=n_ref))
    rule.name = "dfa-optical"
    return rule
