"""Supervised training (cross-entropy or SupCon) with a projection head, on one process or many.

Used by Chapter 7 ("Shortcuts come in multiples"). One entry point, :func:`train_network`,
runs unchanged on one CPU/GPU or under ``torchrun --nproc_per_node N`` with
``DistributedDataParallel``: when ``torch.distributed`` is initialised, every rank draws the same
seeded permutation each epoch and keeps its own shard of it (``rank::world_size``), the model's
gradients are averaged across ranks by DDP, so all ranks hold identical weights after every step.

The network is ``encoder -> head -> classifier``:

* ``loss='ce'``: logits = classifier(head(encoder(x))) with cross-entropy (``head`` may be the
  identity: "no projection head");
* ``loss='supcon'``: SupCon (Khosla et al. 2020) on head(encoder(x)) of two augmented views; the
  classifier is not trained (Chapter 7 retrains last layers afterwards).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.losses import supcon

LOSSES = ("ce", "supcon")


class Network(nn.Module):
    """encoder + head + classifier as one module (what DDP wraps). ``forward(x)`` returns
    ``(h, z, logits)``: h (batch, encoder.out_dim), z (batch, head.out_dim), logits (batch, k)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, classifier: nn.Module):
        super().__init__()
        self.encoder, self.head, self.classifier = encoder, head, classifier

    def forward(self, x):
        h = self.encoder(x)
        z = self.head(h)
        return h, z, self.classifier(z)


def random_shift_flip(x: torch.Tensor, max_shift: float, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by up to ``max_shift`` of its size and flipped left-right with
    probability 1/2 (one affine warp for the batch). Shapes: (B, 3, H, W) -> (B, 3, H, W)."""
    b = len(x)
    t = (torch.rand(b, 2, generator=generator, device=x.device) * 2 - 1) * 2 * max_shift
    flip = torch.where(torch.rand(b, generator=generator, device=x.device) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 1, 1] = flip, 1.0
    theta[:, :, 2] = t
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def _dist():
    """(rank, world_size, initialised?) of torch.distributed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size(), True
    return 0, 1, False


def train_network(net: Network, images: torch.Tensor, labels: torch.Tensor, *, loss: str,
                     epochs: int, batch_size: int, lr: float, weight_decay: float,
                     temperature: float = 0.5, max_shift: float = 0.06, seed: int = 0,
                     alt_images: torch.Tensor | None = None, alt_prob: float = 0.0,
                     device="cpu", desc: str = "training", progress: bool = True,
                     on_epoch_end=None) -> dict:
    """Train ``net`` with Adam; returns ``{'loss': [mean loss per epoch]}``.

    Args:
        images: (n, 3, H, W) uint8; labels: (n,) int64.
        loss: 'ce' or 'supcon'.
        batch_size: the global batch; each of ``world_size`` ranks takes ``batch_size //
            world_size`` of it.
        alt_images: optional (n, 3, H, W) uint8 alternative of each image (e.g. its background
            re-drawn); each time an image is drawn it is replaced by its alternative with
            probability ``alt_prob`` (a mitigation by augmentation).
        on_epoch_end: optional ``f(epoch)`` called after each epoch (e.g. to evaluate).

    Raises:
        ValueError: unknown loss, shapes that disagree, a batch larger than the data or
            smaller than 2 per rank, ``alt_prob`` outside [0, 1] or without ``alt_images``.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {LOSSES}")
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, H, W), got {getattr(images, 'shape', images)}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be ({len(images)},), got {tuple(labels.shape)}")
    if not 0.0 <= alt_prob <= 1.0 or (alt_prob > 0 and alt_images is None):
        raise ValueError(f"alt_prob must lie in [0, 1] and needs alt_images, got {alt_prob}")
    if alt_images is not None and alt_images.shape != images.shape:
        raise ValueError(f"alt_images {tuple(alt_images.shape)} must match images {tuple(images.shape)}")
    rank, world, distributed = _dist()
    local_batch = batch_size // world
    if local_batch < 2 or batch_size > len(images):
        raise ValueError(f"batch_size {batch_size} must be <= n_images {len(images)} and give "
                         f">= 2 images per rank ({world} ranks)")
    device = torch.device(device)
    net.to(device).train()
    model = net
    if distributed:
        model = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    data = images.to(device)
    alt = alt_images.to(device) if alt_images is not None else None
    y_all = labels.to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    # Same seed on every rank: the same permutation, so the shards never overlap.
    gen = torch.Generator(device=device).manual_seed(seed)
    steps = len(data) // batch_size
    history = {"loss": []}
    bar = tqdm(range(epochs), desc=desc, disable=not progress or rank != 0, leave=False)
    for _ in bar:
        order = torch.randperm(len(data), generator=gen, device=device)
        swap = torch.rand(len(data), generator=gen, device=device) < alt_prob
        total = torch.zeros((), device=device)
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size][rank::world]  # this rank's shard
            x = data[idx]
            if alt is not None:
                x = torch.where(swap[idx, None, None, None], alt[idx], x)
            x = x.float().div(255)  # (b, 3, H, W)
            y = y_all[idx]  # (b,)
            if loss == "ce":
                _, _, logits = model(random_shift_flip(x, max_shift, gen))
                value = F.cross_entropy(logits, y)
            else:
                views = torch.cat([random_shift_flip(x, max_shift, gen),
                                   random_shift_flip(x, max_shift, gen)])  # (2b, 3, H, W)
                _, z, logits = model(views)
                zz = torch.stack([z[:len(x)], z[len(x):]], dim=1)  # (b, 2, p)
                # 0 * logits keeps every parameter in the graph (DDP expects gradients for all)
                value = supcon(zz, y, temperature) + 0.0 * logits.sum()
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += value.detach()
        history["loss"].append(total.item() / max(steps, 1))
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
        if on_epoch_end is not None:
            net.eval()
            on_epoch_end(len(history["loss"]))
            net.train()
    net.eval()
    return history
