"""Supervised pre-training with a projection head: cross-entropy or SupCon, seeded, with progress.

Used by Chapter 6 (class collapse, ``helpers.experiments.class_collapse``) and Part V. Constant
learning rate; SimCLR is :func:`helpers.train.train_simclr`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.losses import supcon

LOSSES = ("ce", "supcon")
OPTIMIZERS = ("sgd", "adam")


def train_supervised(encoder: nn.Module, head: nn.Module, images: torch.Tensor,
                     labels: torch.Tensor, augment: nn.Module, *, loss: str, epochs: int,
                     batch_size: int, lr: float, weight_decay: float, optimizer: str = "sgd",
                     temperature: float = 0.5, classifier: nn.Module | None = None,
                     seed: int = 0, device="cpu", desc: str = "supervised",
                     progress: bool = True) -> dict:
    """Train ``encoder`` + ``head`` (+ ``classifier`` for cross-entropy) on ``labels``.

    * ``loss='ce'``: logits = classifier(head(encoder(augment(x)))), cross-entropy.
    * ``loss='supcon'``: SupCon (Khosla et al. 2020) on head(encoder(.)) of two augmented views.

    Args:
        images: (n, 3, H, W) uint8 or float in [0, 1]. labels: (n,) int64.
        augment: module with ``forward(x, generator)`` and ``two_views(x, generator)``.
        optimizer: 'sgd' (momentum 0.9) or 'adam'.

    Returns:
        ``{"loss": [mean loss per epoch]}``.

    Raises:
        ValueError: unknown loss or optimizer, no classifier for 'ce', mismatched shapes, or a
            batch size outside [2, n].
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {LOSSES}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")
    if loss == "ce" and classifier is None:
        raise ValueError("loss='ce' needs a classifier (e.g. nn.Linear(head.out_dim, n_classes))")
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, H, W), got {getattr(images, 'shape', images)}")
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(images),) \
            or labels.is_floating_point():
        raise ValueError(f"labels must be a ({len(images)},) integer tensor, got "
                         f"{getattr(labels, 'shape', labels)} {getattr(labels, 'dtype', '')}")
    if not 2 <= batch_size <= len(images):
        raise ValueError(f"batch_size must be in [2, n_images={len(images)}], got {batch_size}")
    device = torch.device(device)
    modules = [m for m in (encoder, head, classifier) if m is not None]
    for m in modules:
        m.to(device).train()
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    data = images.to(device)
    data = data.float().div(255) if data.dtype == torch.uint8 else data
    y_all = labels.to(device).long()
    gen = torch.Generator(device=device).manual_seed(seed)
    steps = len(data) // batch_size  # full batches only (SupCon and BatchNorm like them)
    history = {"loss": []}
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(len(data), device=device, generator=gen)
        total = torch.zeros((), device=device)
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            x, y = data[idx], y_all[idx]  # (B, 3, H, W), (B,)
            if loss == "ce":
                value = F.cross_entropy(classifier(head(encoder(augment(x, generator=gen)))), y)
            else:
                v1, v2 = augment.two_views(x, generator=gen)
                z = head(encoder(torch.cat([v1, v2])))  # (2B, p)
                value = supcon(torch.stack([z[:len(x)], z[len(x):]], dim=1), y, temperature)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += value.detach()
        history["loss"].append(total.item() / max(steps, 1))
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
    for m in modules:
        m.eval()
    return history
