"""A small decoder-only transformer (GPT) for character-level language modelling."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError, check_range


class TinyGPT(nn.Module):
    """Token + learned position embeddings, ``nn.TransformerEncoder`` with a causal mask, tied read-out."""

    def __init__(self, vocab_size: int, context: int = 64, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 dropout: float = 0.0) -> None:
        super().__init__()
        for k, v in dict(vocab_size=vocab_size, context=context, d_model=d_model, n_layers=n_layers).items():
            check_range(k, v, 1)
        if d_model % n_heads:
            raise ConfigError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.context = context
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.zeros(context, d_model))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.tok.weight, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        if t > self.context:
            raise ConfigError(f"sequence length {t} exceeds the model context {self.context}")
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        h = self.blocks(self.tok(idx) + self.pos[:t], mask=mask, is_causal=True)
        return self.norm(h) @ self.tok.weight.t()
