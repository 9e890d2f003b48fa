"""Scale-out for Chapter 7: the training entry point under ``torchrun`` with DistributedDataParallel.

``torchrun --nproc_per_node N scripts/train_shortcuts.py --method erm_head`` starts N processes;
each calls :func:`init_from_env`, builds the same seeded data and network, and
:func:`helpers.train.train` (the one training engine) wraps the network in
``DistributedDataParallel`` and gives each rank its shard of every batch. Without torchrun's
environment variables everything runs in one process, unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


def init_from_env() -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

    Returns ``(rank, world_size, device)``: NCCL and ``cuda:LOCAL_RANK`` when CUDA is present,
    gloo and the CPU otherwise; ``(0, 1, device)`` without torchrun (nothing initialised).
    """
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{torch.cuda.current_device()}" if cuda else "cpu")
    return torch.distributed.get_rank(), torch.distributed.get_world_size(), device


def train_entry(profile: str, method: str, seed: int, out: Path | None = None,
                progress: bool = True) -> dict:
    """Train one Chapter 7 network of ``method`` at ``profile`` (on every rank); rank 0 saves
    its state dict to ``out``. Returns the network's state dict."""
    from helpers.experiments import shortcuts
    from helpers.profiles import get_profile

    rank, _, device = init_from_env()
    cfg = get_profile(profile).config("shortcuts")
    data = shortcuts.load_data(cfg, seed, watermark=method == "erm_head_wm")
    net = shortcuts.train_method(cfg, method, data, seed, device, progress=progress and rank == 0)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if out is not None and rank == 0:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, out)
    return state
