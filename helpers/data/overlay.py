"""Digits on images (Part III): a handwritten digit blended over each image, and DropDigit.

The book's version of MNIST-on-CIFAR-10 (Xue et al. 2024): every image carries a digit of
strength ``s`` (its opacity), so an image has two labels, its class and its digit. The
augmentation *DropDigit* removes the digit from a view with probability ``p_drop``, so
pre-training is told that the digit does not matter, which is exactly a feature the downstream
task may need.

Images are kept as 4-channel uint8 tensors, RGB plus the digit's mask in channel 3 (0..255), so
a whole training set stays one tensor and the digit can be put in or left out per view:

* :func:`digit_masks` - digit masks from scikit-learn's bundled 8x8 digits, upscaled (offline);
* :func:`overlay` - blend a white digit over RGB images: ``x (1 - s m) + 255 s m``;
* :func:`with_mask_channel` / :func:`composite` - pack, and unpack with the digit in;
* :class:`DropDigit` - per view, drop the digit with probability p_drop, then the base augment.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _check_strength(strength) -> None:
    s = torch.as_tensor(strength, dtype=torch.float32)
    if not torch.all(torch.isfinite(s)) or torch.any((s < 0) | (s > 1)):
        raise ValueError(f"digit strength must lie in [0, 1] (0 = no digit, 1 = opaque); "
                         f"got {strength}")


def digit_masks(n: int, seed: int, size: int = 32, base_indices=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` digit masks ``(n, size, size)`` float32 in [0, 1] and their digits ``(n,)`` int64.

    Each mask is one of scikit-learn's 1797 bundled 8x8 digits (or of ``base_indices``, to keep
    train and test originals apart), drawn with ``seed`` and bilinearly upscaled to cover the
    image."""
    from helpers.data.digits import _originals

    if n < 1 or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8; got n={n}, size={size}")
    images, targets = _originals()
    pool = np.arange(len(images)) if base_indices is None else np.asarray(base_indices)
    pick = np.random.default_rng(seed).choice(pool, size=n, replace=True)
    small = torch.from_numpy(images[pick])[:, None]  # (n, 1, 8, 8)
    masks = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return masks[:, 0].clamp(0, 1), torch.from_numpy(targets[pick])


def overlay(images: torch.Tensor, masks: torch.Tensor, strength) -> torch.Tensor:
    """Blend a white digit over uint8 RGB images: ``x (1 - s m) + 255 s m``, rounded to uint8.

    Args:
        images: (n, 3, H, W) uint8. masks: (n, H, W) float in [0, 1].
        strength: s in [0, 1], a number or one per image (n,).

    Raises:
        ValueError: wrong shapes or dtypes, or a strength outside [0, 1].
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, H, W) uint8; got {tuple(images.shape)} "
                         f"{images.dtype}")
    if masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"masks must be (n, H, W) = {(images.shape[0], *images.shape[2:])}; "
                         f"got {tuple(masks.shape)}")
    _check_strength(strength)
    s = torch.as_tensor(strength, dtype=torch.float32, device=images.device)
    alpha = (s.reshape(-1, 1, 1) if s.ndim else s) * masks.float()  # (n, H, W)
    out = images.float() * (1 - alpha[:, None]) + 255.0 * alpha[:, None]
    return out.round().clamp(0, 255).to(torch.uint8)


def with_mask_channel(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Pack clean RGB images (n, 3, H, W) uint8 and masks (n, H, W) into (n, 4, H, W) uint8."""
    if masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"masks must be (n, H, W) matching the images; got {tuple(masks.shape)}")
    return torch.cat([images, (masks * 255).round().to(torch.uint8)[:, None]], dim=1)


def composite(packed: torch.Tensor, strength) -> torch.Tensor:
    """(n, 4, H, W) packed images -> (n, 3, H, W) uint8 with the digit at ``strength`` (n,) or s."""
    if packed.dtype != torch.uint8 or packed.ndim != 4 or packed.shape[1] != 4:
        raise ValueError(f"expected packed (n, 4, H, W) uint8 images (RGB + digit mask); got "
                         f"{tuple(packed.shape)} {packed.dtype}. Build them with with_mask_channel.")
    return overlay(packed[:, :3], packed[:, 3].float() / 255, strength)


class DropDigit(nn.Module):
    """Two views of packed images: each view keeps the digit (at strength ``s``) with
    probability ``1 - p_drop``, independently per image and view, then ``base`` augments it.

    Args:
        base: an augmentation with ``forward(x, generator)`` on (n, 3, H, W) uint8 images, e.g.
            :class:`helpers.augment.SimCLRAugment`.
        strength: the digit's opacity s in [0, 1].
        p_drop: probability that a view loses its digit, in [0, 1].
    """

    def __init__(self, base: nn.Module, strength: float, p_drop: float):
        super().__init__()
        _check_strength(strength)
        if not 0.0 <= float(p_drop) <= 1.0:
            raise ValueError(f"p_drop is a probability and must lie in [0, 1]; got {p_drop}")
        self.base, self.strength, self.p_drop = base, float(strength), float(p_drop)

    def view(self, packed: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One view (n, 3, size, size) of packed (n, 4, H, W) uint8 images."""
        keep = torch.rand(len(packed), generator=generator, device=packed.device) >= self.p_drop
        return self.base(composite(packed, self.strength * keep.float()), generator=generator)

    def forward(self, packed: torch.Tensor, generator: torch.Generator | None = None):
        return self.view(packed, generator)

    def two_views(self, packed: torch.Tensor, generator: torch.Generator | None = None):
        return self.view(packed, generator), self.view(packed, generator)

    def extra_repr(self) -> str:
        return f"strength={self.strength}, p_drop={self.p_drop}"
