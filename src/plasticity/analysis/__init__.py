"""Fingerprints: pure functions from tensors/models to numbers."""

from .alignment import angle_between, grads_of, update_alignment

__all__ = ["angle_between", "grads_of", "update_alignment"]
