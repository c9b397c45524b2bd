"""Character-level text corpora that ship with Python (no download): Python's own help topics."""

from __future__ import annotations

import torch

from ..errors import ConfigError, check_range

CORPORA = ("pydoc",)


def load_corpus(name: str = "pydoc", max_chars: int | None = None) -> str:
    """The English text of Python's help topics (``pydoc_data.topics``, ~460k characters), ASCII only."""
    if name not in CORPORA:
        raise ConfigError(f"unknown corpus {name!r}; allowed: {', '.join(CORPORA)}")
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k] for k in sorted(topics))
    text = text.encode("ascii", "ignore").decode("ascii")
    return text[:max_chars] if max_chars else text


class CharCorpus:
    """A corpus as integer tokens with a fixed vocabulary; ``reverse=True`` gives the same text backwards.

    The last ``val_fraction`` of the (forward) text is held out; reversing keeps exactly the same held-out
    characters, so forward and backward losses are measured on the same symbols.
    """

    def __init__(self, text: str, val_fraction: float = 0.1, reverse: bool = False) -> None:
        check_range("val_fraction", val_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        if len(text) < 100:
            raise ConfigError(f"text has {len(text)} characters; need at least 100")
        self.vocab = sorted(set(text))
        lookup = {c: i for i, c in enumerate(self.vocab)}
        ids = torch.tensor([lookup[c] for c in text], dtype=torch.long)
        cut = int(len(ids) * (1 - val_fraction))
        train, val = ids[:cut], ids[cut:]
        self.train, self.val = (train.flip(0), val.flip(0)) if reverse else (train, val)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tiled(self, split: str, context: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every (input, target) window of length ``context`` tiling a split without overlap, in order.

        Deterministic: scoring all of them measures the loss on (almost) every held-out symbol once, with no
        sampling noise, so forward and backward models are compared on exactly the same characters.
        """
        data = self.train if split == "train" else self.val
        n = (len(data) - 1) // context
        if n < 1:
            raise ConfigError(f"{split} split has {len(data)} tokens; context {context} is too long")
        x = data[: n * context].view(n, context)
        y = data[1 : n * context + 1].view(n, context)
        return x, y

    def windows(self, split: str, context: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random (input, next-token target) windows of length ``context`` from a split."""
        data = self.train if split == "train" else self.val
        if len(data) <= context + 1:
            raise ConfigError(f"{split} split has {len(data)} tokens; context {context} is too long")
        starts = torch.randint(0, len(data) - context - 1, (n,), generator=generator)
        idx = starts[:, None] + torch.arange(context + 1)
        w = data[idx]
        return w[:, :-1], w[:, 1:]
