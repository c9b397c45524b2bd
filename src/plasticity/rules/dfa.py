"""Direct feedback alignment (Nøkland 2016) and its optical variant (Launay et al. 2020).

DFA sends the output error e = dL/dŷ straight to every hidden layer through a fixed random
matrix: the input x_l of each plastic layer except the first gets the gradient ``B_l e`` (instead of
the backpropagated one), so layer l-1 learns from ``δ_{l-1} = (B_l e) ⊙ f'(a_{l-1})``. The last
layer's update equals backprop's. For a convolutional layer the dense B_l is (C·H·W) x classes; the
*structured* feedback (``feedback='structured'``) instead broadcasts e over a fixed random spatial pattern
S_l (classes x H x W) and convolves it with a small fixed kernel K_l (C x classes x k x k):
``B_l e = K_l * (S_l ⊙ e)``, O(classes·(H·W + C·k²)) numbers instead of O(classes·C·H·W). Implementation: each hidden layer's input is detached in the
forward pass and the injections are pushed through one ``autograd.backward`` call, so no
``Wᵀδ`` products are computed at all.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_choice, check_range
from .base import LearningRule, StepReport, plastic_layers
from .feedback import check_reachable


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

    def __repr__(self) -> str:
        return (f"OpticalProjection(bits={self.bits}, noise={self.noise}, threshold={self.threshold}, "
                f"n_ref={self.n_ref}, rescale={self.rescale})")

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


FEEDBACKS = ("dense", "structured")


class DirectFeedbackAlignment(LearningRule):
    """DFA: every hidden layer receives ``B_l e`` with a fixed random ``B_l`` (features_l x n_out).

    ``feedback_scale`` multiplies the default B entries (uniform, std 1/sqrt(features_l)).
    ``feedback``: 'dense' (one matrix per layer) or 'structured' (conv layers get a spatial pattern and a small
    kernel of size ``kernel_size``; other layers stay dense). ``diagnostics`` adds ``norm_ratio.<layer>`` and
    ``numel.<layer>`` to every report. ``allow_bp_fallback`` lets weights the hooks cannot
    reach (e.g. inside ``nn.MultiheadAttention``) keep autograd's gradient, reported in every step's metrics.
    """

    name = "dfa"

    def __init__(self, loss: str = "auto", seed: int = 0, feedback_scale: float = 1.0, feedback: str = "dense",
                 kernel_size: int = 3, allow_bp_fallback: bool = False, diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed)
        self.diagnostics = bool(diagnostics)
        self.feedback_scale = check_range("feedback_scale", feedback_scale, 0.0, low_inclusive=False)
        self.feedback = check_choice("feedback", feedback, FEEDBACKS)
        self.kernel_size = int(check_range("kernel_size", kernel_size, 1))
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size={kernel_size!r} is out of range; allowed: odd integers >= 1")
        self.allow_bp_fallback = bool(allow_bp_fallback)
        self._taps: list[tuple[str, torch.Tensor]] = []
        self._fallback: list[str] = []
        self.register_generator("noise", self.seed + 7919)

    @property
    def optical(self) -> OpticalProjection | None:
        """The simulated optical projection (None: digital DFA)."""
        return None

    def _prepare(self, model: nn.Module) -> None:
        self._fallback = check_reachable(self.name, model, self.allow_bp_fallback)
        for name, module in plastic_layers(model):
            self.add_hook(module.register_forward_pre_hook(self._make_hook(name)))

    def _make_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple):
            if not self.active or not torch.is_grad_enabled():
                return None
            x = inputs[0]
            if not x.requires_grad:          # the network input: nothing to inject
                return None
            self._taps.append((name, x))
            return (x.detach(), *inputs[1:])
        return hook

    def _seed_for_new(self) -> int:
        return self.seed * 1000003 + 17 + len(self.buffers)

    def _matrix(self, name: str, features: int, n_out: int, like: torch.Tensor) -> torch.Tensor:
        """The fixed dense feedback for tap ``name``: real (features, n_out) or, if optical, a complex medium."""
        key = f"B.{name}"
        b = self.buffers.get(key)
        if b is None:
            g = torch.Generator().manual_seed(self._seed_for_new())
            if self.optical is None:
                b = (torch.rand(features, n_out, generator=g) * 2 - 1) * math.sqrt(3.0 / features)
            else:
                cols = n_out + self.optical.n_ref
                re, im = torch.randn(2, features, cols, generator=g) / math.sqrt(2.0)
                b = torch.complex(re, im) / math.sqrt(features)
            b = self.register_buffer(key, b.to(like.device))
        return b

    def _structured(self, name: str, tap: torch.Tensor, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Spatial pattern S (n_out, *spatial) and kernel K (C, n_out, k, ...) of a conv tap, created on first use."""
        ks, kk = f"S.{name}", f"K.{name}"
        if ks not in self.buffers:
            g = torch.Generator().manual_seed(self._seed_for_new())
            spatial, c = tuple(tap.shape[2:]), tap.shape[1]
            k = (self.kernel_size,) * len(spatial)
            features = c * math.prod(spatial)
            s = (torch.rand(n_out, *spatial, generator=g) * 2 - 1) * math.sqrt(3.0)
            kern = (torch.rand(c, n_out, *k, generator=g) * 2 - 1) * math.sqrt(3.0 / (features * math.prod(k)))
            self.register_buffer(ks, s.to(tap.device))
            self.register_buffer(kk, kern.to(tap.device))
        return self.buffers[ks], self.buffers[kk]

    def project(self, name: str, tap: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        """The injection ``B_l e`` for tap ``name`` (shaped like the tap, before ``feedback_scale``)."""
        if self.feedback == "structured" and tap.dim() in (3, 4) and self.optical is None:
            s, kern = self._structured(name, tap, e2.shape[1])
            field = e2.reshape(*e2.shape, *([1] * (tap.dim() - 2))) * s
            conv = F.conv2d if tap.dim() == 4 else F.conv1d
            return conv(field, kern, padding=self.kernel_size // 2)
        b = self._matrix(name, tap[0].numel(), e2.shape[1], tap)
        if self.optical is None:
            return e2 @ b.t()
        return self.optical.project(e2, b, self._generators["noise"])

    def compute_gradients(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> StepReport:
        self._taps = []
        try:
            output = model(x)
            loss = self.loss_fn(output, y)
            (e,) = torch.autograd.grad(loss, output, retain_graph=True)
            e2 = e.reshape(e.shape[0], -1)
            tensors, grads = [output], [e]
            for name, tap in self._taps:
                inj = self.project(name, tap, e2)
                tensors.append(tap)
                grads.append((self.feedback_scale * inj).reshape(tap.shape).to(tap.dtype))
            torch.autograd.backward(tensors, grads)
        finally:
            self._taps = []
        return StepReport(loss=loss, output=output)

    def step_metrics(self, model: nn.Module) -> dict[str, float]:
        out = {"bp_fallback_modules": float(len(self._fallback))} if self._fallback else {}
        return {**out, **self.feedback_diagnostics(model)} if self.diagnostics else out

    def feedback_diagnostics(self, model: nn.Module) -> dict[str, float]:
        """Per tapped layer ``norm_ratio.<layer>`` = ‖B_l‖/‖W_l‖ (W_l: the layer the error is injected into; B_l and
        W_l have different shapes, so DFA has no W-B angle) and ``numel.<layer>``, the feedback's size."""
        out: dict[str, float] = {}
        for name, m in plastic_layers(model):
            parts = [self.buffers[k] for k in (f"B.{name}", f"S.{name}", f"K.{name}") if k in self.buffers]
            if parts:
                norm = math.sqrt(sum(float(p.abs().pow(2).sum()) for p in parts))
                out[f"norm_ratio.{name}"] = norm / max(float(m.weight.detach().norm()), 1e-30)
                out[f"numel.{name}"] = float(sum(p.numel() for p in parts))
        return out

    def feedback_numel(self) -> int:
        """Numbers held in feedback tensors (the memory the rule adds to the model)."""
        return sum(v.numel() for k, v in self.buffers.items() if k[:2] in ("B.", "S.", "K."))


class OpticalDFA(DirectFeedbackAlignment):
    """DFA with the simulated optical co-processor of Launay et al. (2020) (see ``OpticalProjection``)."""

    name = "dfa-optical"
    supports_bf16 = False

    def __init__(self, loss: str = "auto", seed: int = 0, bits: int = 8, noise: float = 0.01,
                 threshold: float = 0.15, n_ref: int = 16, feedback_scale: float = 1.0,
                 allow_bp_fallback: bool = False, diagnostics: bool = False) -> None:
        super().__init__(loss=loss, seed=seed, feedback_scale=feedback_scale, allow_bp_fallback=allow_bp_fallback,
                         diagnostics=diagnostics)
        proj = OpticalProjection(bits=bits, noise=noise, threshold=threshold, n_ref=n_ref)
        self.bits, self.noise, self.threshold, self.n_ref = proj.bits, proj.noise, proj.threshold, proj.n_ref

    @property
    def optical(self) -> OpticalProjection:
        return OpticalProjection(bits=self.bits, noise=self.noise, threshold=self.threshold, n_ref=self.n_ref)
