"""Contrastive pre-training loops: seeded, with progress bars, resumable from a checkpoint.

Used by Chapter 1 (SimCLR, NT-Xent) and every later chapter that pre-trains an encoder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.pipeline import SimCLRStep, SpeedSettings, make_optimizer, run_epoch


def _check_images(images: torch.Tensor, batch_size: int) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (n, 3, H, W) tensor, got {shape}")
    if not 2 <= batch_size <= len(images):
        raise ValueError(f"batch_size must be in [2, n_images={len(images)}], got {batch_size}; "
                         "lower it or use more images")


def load_checkpoint(path: Path, fingerprint: str) -> dict | None:
    """Read a training checkpoint with ``weights_only=True``; None when absent.

    Raises:
        RuntimeError: the file is damaged or belongs to another configuration (delete it to
            start over; it is never silently ignored).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged archive
        raise RuntimeError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); "
                           "delete it to train from scratch") from err
    if state.get("fingerprint") != fingerprint:
        raise RuntimeError(f"checkpoint {path} was written by a different configuration; "
                           "delete it or choose another checkpoint path")
    return state


def fingerprint(**config) -> str:
    """A short hash of the run's configuration, stored in its checkpoint."""
    blob = json.dumps({k: repr(v) for k, v in sorted(config.items())}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_simclr(encoder: nn.Module, head: nn.Module, images: torch.Tensor, augment: nn.Module,
                 *, epochs: int, batch_size: int, lr: float, weight_decay: float,
                 temperature: float, seed: int, device: torch.device | str = "cpu",
                 checkpoint: Path | None = None, desc: str = "SimCLR",
                 progress: bool = True, speed: SpeedSettings | None = None) -> dict:
    """SimCLR (Chen et al. 2020): two augmented views, encoder, head, NT-Xent, Adam.

    Each step is :class:`helpers.pipeline.SimCLRStep`, the book's fast path: the images stay
    on ``device`` as uint8, the views are made there, and on CUDA the network runs in bf16,
    channels_last, with a fused Adam (``speed`` overrides; on a CPU it is the plain loop).

    Args:
        encoder: images (batch, 3, H, W) -> h (batch, d).
        head: h -> z (batch, p); the loss sees only z.
        images: (n, 3, H, W) uint8 or float in [0, 1]; moved to ``device`` once, as is.
        augment: module with ``two_views(x, generator) -> (v1, v2)``.
        checkpoint: if given, state is saved there after every epoch and a run resumes from it.
        speed: the fast path's switches; default ``SpeedSettings.for_device(device)``.

    Returns:
        ``{"loss": [mean loss per epoch], "epochs_run": int}``.
    """
    _check_images(images, batch_size)
    device = torch.device(device)
    encoder.to(device).train()
    head.to(device).train()
    data = images.to(device)  # uint8 stays uint8: each batch becomes float on the device
    speed = SpeedSettings.for_device(device) if speed is None else speed
    params = list(encoder.parameters()) + list(head.parameters())
    opt = make_optimizer(params, "adam", lr=lr, weight_decay=weight_decay,
                         fused=speed.fused_optimizer)
    gen = torch.Generator(device=device).manual_seed(seed)
    history, start = {"loss": []}, 0
    # epochs is left out so a finished run can be extended, and an interrupted one resumed.
    fp = fingerprint(batch_size=batch_size, lr=lr, wd=weight_decay,
                     temperature=temperature, seed=seed, n=len(images), desc=desc)
    state = load_checkpoint(checkpoint, fp) if checkpoint else None
    if state is not None:
        encoder.load_state_dict(state["encoder"])
        head.load_state_dict(state["head"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        history, start = state["history"], state["epoch"]

    step = SimCLRStep(encoder, head, augment, opt, temperature=temperature, settings=speed)
    bar = tqdm(range(start, epochs), desc=desc, initial=start, total=epochs, disable=not progress,
               leave=False)
    for epoch in bar:
        total, steps = run_epoch(step, data, batch_size, gen)  # summed on device: no sync
        history["loss"].append(total.item() / steps)  # the epoch's one synchronisation
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
        if checkpoint:
            Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(str(checkpoint) + ".tmp")
            torch.save({"encoder": encoder.state_dict(), "head": head.state_dict(),
                        "optimizer": opt.state_dict(), "generator": gen.get_state(),
                        "history": history, "epoch": epoch + 1, "fingerprint": fp}, tmp)
            tmp.replace(checkpoint)
    history["epochs_run"] = epochs - start
    encoder.eval()
    head.eval()
    return history
