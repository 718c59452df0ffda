"""Training over several processes with torch.distributed, as ``torchrun`` starts them.

``torchrun --nproc-per-node=N -m lutcli train ...`` runs N copies of the command with RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address in their environment. Each copy joins the
process group (NCCL between GPUs, gloo between CPUs), prepares its share of the pairs, trains
on its share of every step's crops under DistributedDataParallel, and validates its share of
the held-out pairs; rank 0 alone writes the model, the training state and the report. In a
single process every function here is a no-op.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    """Whether this process is one of several that torchrun (or a launcher like it) started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launched_rank() -> int:
    """The rank torchrun gave this process (0 when it was not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def join(device: torch.device) -> torch.device:
    """Join the process group torchrun set up; this process's device (its own GPU by
    LOCAL_RANK when ``device`` is CUDA). Without torchrun: ``device`` as it is."""
    if not launched_by_torchrun() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def leave() -> None:
    """Leave the process group, once training is done (or failed)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    """This process's number among the training processes (0 alone)."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    """How many processes train together (1 alone)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def is_writer() -> bool:
    """Whether this process writes the files (the model, the state, the report)."""
    return rank() == 0


def gather(items: list) -> list:
    """Every process's ``items``, one list after the other in rank order (``items`` alone in
    one process). The items travel pickled, between the processes of this one training run."""
    if not dist.is_initialized():
        return items
    parts: list[list | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, items)
    return [item for part in parts for item in part or []]


def sum_over_processes(values: list[float]) -> list[float]:
    """Each value summed over the processes (float64, on the CPU or on this process's GPU)."""
    if not dist.is_initialized():
        return values
    on = torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")
    total = torch.tensor(values, dtype=torch.float64, device=on)
    dist.all_reduce(total)
    return total.tolist()
