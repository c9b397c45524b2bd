"""Presynaptic activity of every Linear/Conv2d layer, as the rows the layer's weight gradient is built from.

For ``nn.Linear`` the rows are the inputs (any leading dims, e.g. time x batch for a spiking net, are
flattened); for ``nn.Conv2d`` they are the unfolded input patches (C*kh*kw per output position), because a
conv weight gradient is a sum of delta x patch^T. With ``include_bias`` a constant 1 is appended for layers
with a bias: the bias is the weight on a constant input, so the same projection protects it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError


def layer_input_dim(module: nn.Module, include_bias: bool = True) -> int:
    """Length of one activity row of ``module`` (fan-in, +1 for the bias when ``include_bias``)."""
    if isinstance(module, nn.Linear):
        n = module.in_features
    elif isinstance(module, nn.Conv2d):
        check_conv(module)
        n = module.weight[0].numel()
    else:
        raise ConfigError(f"layer of type {type(module).__name__} is not supported; allowed: Linear, Conv2d")
    return n + int(include_bias and module.bias is not None)


def check_conv(module: nn.Conv2d) -> None:
    if module.groups != 1:
        raise ConfigError(f"Conv2d with groups={module.groups} is not supported by the projection; allowed: groups=1")
    if isinstance(module.padding, str) and module.padding != "valid":
        raise ConfigError("Conv2d padding='same' is not supported by the projection; use numeric padding")
    if module.padding_mode != "zeros":
        raise ConfigError(f"Conv2d padding_mode={module.padding_mode!r} is not supported; allowed: 'zeros'")


def activity_rows(module: nn.Module, x: torch.Tensor, include_bias: bool = True) -> torch.Tensor:
    """The rows (N x n) whose outer products with the output deltas make ``module``'s weight gradient."""
    if isinstance(module, nn.Linear):
        rows = x.reshape(-1, module.in_features)
    elif isinstance(module, nn.Conv2d):
        check_conv(module)
        pad = 0 if module.padding == "valid" else module.padding
        patches = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=pad, stride=module.stride)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
    else:
        raise ConfigError(f"layer of type {type(module).__name__} is not supported; allowed: Linear, Conv2d")
    if include_bias and module.bias is not None:
        rows = torch.cat([rows, torch.ones(rows.shape[0], 1, device=rows.device, dtype=rows.dtype)], 1)
    return rows


@torch.no_grad()
def collect_activity(model: nn.Module, x: torch.Tensor, layers: list[tuple[str, nn.Module]],
                     batch_size: int = 512, max_rows: int | None = None, include_bias: bool = True,
                     seed: int = 0) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` (eval mode, no grad) and return each layer's activity rows.

    ``max_rows`` keeps a seeded random subset of at most that many rows per layer (conv layers give one row
    per output position, which would not fit in memory for a whole dataset).
    """
    rows: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
    n = x.shape[0]
    gen = torch.Generator().manual_seed(int(seed))

    def make_hook(name: str, module: nn.Module):
        def hook(mod: nn.Module, inputs: tuple) -> None:
            r = activity_rows(module, inputs[0].detach(), include_bias)
            if max_rows is not None:
                share = max(1, -(-int(max_rows) * inputs[0].shape[0] // max(n, 1)))
                if r.shape[0] > share:
                    r = r[torch.randperm(r.shape[0], generator=gen)[:share].to(r.device)]
            rows[name].append(r)
        return hook

    handles = [m.register_forward_pre_hook(make_hook(name, m)) for name, m in layers]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, n, int(batch_size)):
            model(x[i : i + int(batch_size)])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = {}
    for name, parts in rows.items():
        if not parts:
            raise ConfigError(f"layer {name!r} was not called in the forward pass; it cannot be protected")
        r = torch.cat(parts)
        if max_rows is not None and r.shape[0] > int(max_rows):
            r = r[torch.randperm(r.shape[0], generator=gen)[: int(max_rows)].to(r.device)]
        out[name] = r
    return out
