"""Data-parallel training with ``torch.distributed`` for *every* rule.

Every rule ends by writing its descent direction into ``.grad``, so data parallelism is one transform:
after ``rule.step`` on a rank's shard, all-reduce (average) each ``.grad``. With equal shards and a
batch-mean loss this equals one process stepping on the whole batch. Launch with ``torchrun``.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from .trainer import Trainer


def world() -> tuple[int, int]:
    """(rank, world size) of an initialised process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def launch_rank() -> int:
    """This process's rank as torchrun set it (``RANK`` when ``WORLD_SIZE`` > 1), before any group exists.

    The run store and checkpoints are written by rank 0 alone; this lets callers decide that before
    ``init_from_env`` has run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


def init_from_env(device: torch.device | None = None) -> bool:
    """Initialise the default process group from torchrun's env vars (gloo on CPU, nccl on CUDA).

    Returns True when a group with more than one process is active."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_world_size() > 1


class GradAllReduce:
    """Transform: average every ``p.grad`` over the process group (one flat all-reduce). ``DistributedTrainer``
    does its own weighted reduction; this is for hand-written loops with equal shards."""

    def __call__(self, model: nn.Module) -> None:
        size = world()[1]
        if size == 1:
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n


def broadcast_parameters(model: nn.Module, src: int = 0) -> None:
    """Make every rank start from rank ``src``'s weights and buffers."""
    if world()[1] == 1:
        return
    for t in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(t.data, src)


def shard(x: torch.Tensor, rank: int, size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous slice of a batch (sizes differ by at most one)."""
    n = x.shape[0]
    lo, hi = rank * n // size, (rank + 1) * n // size
    return x[lo:hi]


class DistributedTrainer(Trainer):
    """``Trainer`` where each rank steps on its shard of every batch and ``.grad`` is all-reduced.

    Batch order is a function of (seed, epoch), so every rank sees the same batches. Each rank's gradient and
    loss are weighted by its share of the batch (``n_rank / n``) and summed in one all-reduce, so with a
    batch-mean loss the step equals one process on the whole batch up to float reduction order, also when
    the last batch splits unevenly. The divergence checks see the reduced loss, so all ranks stop together.
    Only rank 0 should write checkpoints and the store.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        broadcast_parameters(self.model)
        size = world()[1]
        last = self.data.x_train.shape[0] % self.batch_size
        if size > 1 and 0 < last < size:
            from ..errors import ConfigError

            raise ConfigError(f"the last batch holds {last} examples, fewer than the {size} processes; "
                              "change batch_size or n_train")

    def train_step(self, x: torch.Tensor, y: torch.Tensor):
        rank, size = world()
        if size == 1:
            return super().train_step(x, y)
        xs, ys = shard(x, rank, size), shard(y, rank, size)
        report = self.rule.step(self.model, xs, ys)
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        dtype = grads[0].dtype if grads else torch.float32
        flat = torch.cat([g.reshape(-1) for g in grads] + [report.loss.detach().reshape(1).to(dtype)])
        flat *= xs.shape[0] / x.shape[0]
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        report.loss = flat[-1].to(report.loss.dtype).reshape(())
        return self._apply(report)
