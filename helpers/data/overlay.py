"""Digits on images (Part III): a handwritten digit blended over each image, and DropDigit.

The book's version of MNIST-on-CIFAR-10 (Xue et al. 2024): every image carries a digit of
strength ``s`` (its opacity), so an image has two labels, its class and its digit. The
augmentation *DropDigit* removes the digit from one of the two views with probability ``p_drop``, so
pre-training is told that the digit does not matter, which is exactly a feature the downstream
task may need.

Images are kept as 4-channel uint8 tensors, RGB plus the digit's mask in channel 3 (0..255), so
a whole training set stays one tensor and the digit can be put in or left out per view:

* :func:`digit_masks` - digit masks from scikit-learn's bundled 8x8 digits, upscaled (offline);
* :func:`overlay` - blend a white digit over RGB images: ``x (1 - s m) + 255 s m``;
* :func:`with_mask_channel` / :func:`composite` - pack, and unpack with the digit in;
* :class:`DropDigit` - two views that disagree about the digit with probability p_drop (one
  view drops it, the other keeps it), then the base augment.
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
    """Two views of packed images that disagree about the digit with probability ``p_drop``.

    For each image, with probability ``p_drop`` **one** of its two views (either, at random)
    loses the digit and the other keeps it at strength ``s``; otherwise both keep it. Then
    ``base`` augments each view. So ``p_drop`` is exactly the rate at which the two views
    disagree about the digit, and even at ``p_drop = 1`` every image shows its digit in one
    view: pre-training sees the digit, and the loss is told it does not matter.

    (Dropping the digit independently in each view, as an earlier version did, makes the views
    disagree with probability ``2p(1 - p)``, which peaks at 0.5, and at ``p = 1`` the digit is
    never seen at all.)

    Args:
        base: an augmentation with ``forward(x, generator)`` on (n, 3, H, W) uint8 images, e.g.
            :class:`helpers.augment.SimCLRAugment`.
        strength: the digit's opacity s in [0, 1].
        p_drop: probability that one of an image's two views loses its digit, in [0, 1].
    """

    def __init__(self, base: nn.Module, strength: float, p_drop: float):
        super().__init__()
        _check_strength(strength)
        if not 0.0 <= float(p_drop) <= 1.0:
            raise ValueError(f"p_drop is a probability and must lie in [0, 1]; got {p_drop}")
        self.base, self.strength, self.p_drop = base, float(strength), float(p_drop)

    def digit_kept(self, n: int, generator: torch.Generator | None = None,
                   device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Which view keeps its digit: two (n,) bool tensors, never both False."""
        disagree = torch.rand(n, generator=generator, device=device) < self.p_drop
        first_loses = torch.rand(n, generator=generator, device=device) < 0.5
        return ~(disagree & first_loses), ~(disagree & ~first_loses)

    def view(self, packed: torch.Tensor, keep: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One view (n, 3, size, size) of packed (n, 4, H, W) uint8 images; ``keep`` (n,) bool
        says which images show their digit in it."""
        return self.base(composite(packed, self.strength * keep.float()), generator=generator)

    def forward(self, packed: torch.Tensor, generator: torch.Generator | None = None):
        """One view with the digit kept everywhere (a single view has nothing to disagree with)."""
        return self.view(packed, torch.ones(len(packed), dtype=torch.bool, device=packed.device),
                         generator)

    def two_views(self, packed: torch.Tensor, generator: torch.Generator | None = None):
        keep1, keep2 = self.digit_kept(len(packed), generator, packed.device)
        return self.view(packed, keep1, generator), self.view(packed, keep2, generator)

    def extra_repr(self) -> str:
        return f"strength={self.strength}, p_drop={self.p_drop}"


def check_drop_digit(packed: torch.Tensor, strength: float, p_drop: float, seed: int = 0) -> str:
    """Structure check of DropDigit on real training images: the digit is in exactly the views
    it should be. With the base augmentation left out, every view must equal the image either
    with its digit at ``strength`` or without it; at most one view of an image may lose it; and
    the views must disagree at rate ``p_drop`` (within 4 binomial standard errors).

    Args:
        packed: (n, 4, H, W) uint8 training images with their digit masks.

    Returns:
        One line saying what was measured.

    Raises:
        helpers.evidence.StandInError: any of the three properties fails.
    """
    from helpers.evidence import StandInError

    aug = DropDigit(lambda v, generator=None: v, strength, p_drop)
    gen = torch.Generator().manual_seed(seed)
    keep1, keep2 = aug.digit_kept(len(packed), torch.Generator().manual_seed(seed))
    v1, v2 = aug.two_views(packed, gen)
    with_digit, without = composite(packed, strength), composite(packed, 0.0)
    problems = []
    for v, keep, name in ((v1, keep1, "view 1"), (v2, keep2, "view 2")):
        expected = torch.where(keep[:, None, None, None], with_digit, without)
        if not torch.equal(v, expected):
            problems.append(f"{name} is neither the image with its digit nor without it")
    both_lost = int((~keep1 & ~keep2).sum())
    if both_lost:
        problems.append(f"{both_lost} images lost the digit in both views")
    n = len(packed)
    rate = float((keep1 ^ keep2).float().mean())
    tolerance = 4 * (p_drop * (1 - p_drop) / n) ** 0.5 + 1 / n
    if abs(rate - p_drop) > tolerance:
        problems.append(f"the views disagree at rate {rate:.3f}, not p_drop = {p_drop:g}")
    line = (f"DropDigit structure check (s = {strength:g}, p_drop = {p_drop:g}, {n} images): "
            f"views disagree about the digit at rate {rate:.3f}; images with no digit in either "
            f"view: {both_lost}")
    if problems:
        raise StandInError(f"{line}: FAILED - {'; '.join(problems)}. DropDigit must drop the "
                           f"digit from one view only, with probability p_drop")
    return line + ": passed"
