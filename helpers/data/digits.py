"""Real handwritten digits offline: scikit-learn's bundled 8x8 digits, upscaled and colourised.

``sklearn.datasets.load_digits`` ships 1797 images with the package (no download). Each
output image is one of them, bilinearly upscaled and placed with a random scale and offset,
drawn in a random foreground colour on a random background colour, plus light noise. When
``n`` exceeds the originals they are re-used with fresh placement and colour;
``extra['base_index']`` records the original, so splits can be kept disjoint by original
(:func:`split_digits`, :func:`base_digit_indices`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from helpers.data.procedural import hsv_to_rgb
from helpers.data.registry import ImageSet
from helpers.data.registry import split_seed as _derive_seed

N_ORIGINALS = 1797
CLASSES = tuple(str(d) for d in range(10))


@lru_cache(maxsize=1)
def _originals() -> tuple[np.ndarray, np.ndarray]:
    """(images ``(1797, 8, 8) float32`` in [0, 1], targets ``(1797,) int64``)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images.astype(np.float32) / 16.0), digits.target.astype(np.int64)


def base_digit_indices(split: str, split_seed: int = 0, test_fraction: float = 0.3) -> np.ndarray:
    """Indices (sorted, int64) of the sklearn originals that belong to ``split``.

    The split is stratified by digit and depends only on ``split_seed`` and ``test_fraction``,
    so 'train' and 'test' are disjoint and together cover all 1797 originals.

    Raises:
        ValueError: split not 'train'/'test', test_fraction outside (0, 1).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    _, targets = _originals()
    rng = np.random.default_rng(split_seed)
    chosen = []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(targets == digit))
        n_test = int(round(test_fraction * len(idx)))
        chosen.append(idx[:n_test] if split == "test" else idx[n_test:])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def make_digits(n: int, seed: int, size: int = 32, colourise: bool = True,
                base_indices=None, noise: float = 0.03) -> ImageSet:
    """``n`` digit images drawn from the originals ``base_indices`` (default: all 1797).

    Every original is used ``n // len(base_indices)`` or one more times, in random order.

    Args:
        n: number of images (may exceed the number of originals).
        seed: seeds a ``numpy.random.Generator``; same seed, same images.
        size: height and width in pixels (at least 8).
        colourise: random foreground and background colours per image; False gives white
            digits on black.
        base_indices: which originals (indices into ``sklearn.datasets.load_digits()``) to use.
        noise: standard deviation of the Gaussian pixel noise, in units of the 0..255 range.

    Returns:
        ImageSet: images ``(n, 3, size, size) uint8``, labels ``(n,) int64`` in 0..9 (the
        original's target), ``extra['base_index']`` ``(n,) int64``.

    Raises:
        ValueError: n or size too small, negative seed or noise, base_indices empty, repeated
            or outside 0..1796.
    """
    for name, value, minimum in (("n", n, 1), ("seed", seed, 0), ("size", size, 8)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if not float(noise) >= 0.0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")
    originals, targets = _originals()
    pool = np.arange(N_ORIGINALS) if base_indices is None else np.asarray(base_indices).ravel()
    if pool.size == 0 or not np.issubdtype(pool.dtype, np.integer) or pool.min() < 0 \
            or pool.max() >= N_ORIGINALS or np.unique(pool).size != pool.size:
        raise ValueError(f"base_indices must be distinct ints in 0..{N_ORIGINALS - 1} "
                         f"(see base_digit_indices), got {pool.size} values of dtype {pool.dtype}")

    rng = np.random.default_rng(seed)
    reps = -(-n // pool.size)
    base = np.concatenate([rng.permutation(pool) for _ in range(reps)])[:n]
    # placement: the 8x8 original fills `scale` of the frame, shifted but kept inside
    scale = rng.uniform(0.6, 0.85, n)
    shift = rng.uniform(-1, 1, (n, 2)) * (1 - scale)[:, None]  # normalised coords
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = -shift / scale[:, None]
    grid = F.affine_grid(torch.from_numpy(theta), [n, 1, size, size], align_corners=False)
    ink = F.grid_sample(torch.from_numpy(originals[base][:, None]), grid, mode="bilinear",
                        padding_mode="zeros", align_corners=False)  # (n, 1, size, size)
    if colourise:  # one of the two colours light, the other dark: the digit stays readable
        light, dark = rng.uniform(0.7, 1.0, n), rng.uniform(0.05, 0.4, n)
        fg_light = rng.random(n) < 0.5
        fg = hsv_to_rgb(rng.random(n), rng.uniform(0.3, 1.0, n), np.where(fg_light, light, dark))
        bg = hsv_to_rgb(rng.random(n), rng.uniform(0.0, 0.8, n), np.where(fg_light, dark, light))
    else:
        fg, bg = np.ones((n, 3), np.float32), np.zeros((n, 3), np.float32)
    fg, bg = torch.from_numpy(fg)[:, :, None, None], torch.from_numpy(bg)[:, :, None, None]
    img = bg + (fg - bg) * ink
    if noise > 0:
        img = img + torch.from_numpy(rng.standard_normal(img.shape, dtype=np.float32)) * noise
    images = (img * 255 + 0.5).clamp_(0, 255).to(torch.uint8)
    source = ("scikit-learn handwritten digits (8x8, upscaled"
              + (", colourised)" if colourise else ")"))
    return ImageSet(images, torch.from_numpy(targets[base]), list(CLASSES), source,
                    {"base_index": torch.from_numpy(base.astype(np.int64))})


def split_digits(n_train: int, n_test: int, seed: int, size: int = 32, colourise: bool = True,
                 test_fraction: float = 0.3, noise: float = 0.03) -> tuple[ImageSet, ImageSet]:
    """(train, test) digit sets whose originals do not overlap.

    The 1797 originals are split first (stratified by digit, ``test_fraction`` to test, by
    ``seed``); each set is then rendered from its own originals with its own random stream.

    Raises:
        ValueError: as :func:`make_digits` and :func:`base_digit_indices`.
    """
    sets = []
    for split, n in (("train", n_train), ("test", n_test)):
        bases = base_digit_indices(split, split_seed=seed, test_fraction=test_fraction)
        sets.append(make_digits(n, _derive_seed(seed, split), size=size, colourise=colourise,
                                base_indices=bases, noise=noise))
    return sets[0], sets[1]
