"""The ``ImageSet`` container and ``load_image_set``: one name -> one image set, every chapter.

Names: ``'shapes'`` (procedural offline stand-in for CIFAR-10), ``'digits'`` (scikit-learn's
bundled handwritten digits, colourised), ``'cifar10'`` and ``'cifar100'`` (the real data sets,
read from CIFAR's python pickles under :func:`data_root`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

DATA_NAMES = ("shapes", "digits", "cifar10", "cifar100")
SPLITS = ("train", "test")


@dataclass
class ImageSet:
    """Images with labels, class names and a caption-ready description of where they came from.

    Attributes:
        images: ``(n, 3, H, W) uint8`` tensor, channels RGB.
        labels: ``(n,) int64`` tensor of class indices into ``classes``.
        classes: the class names, ``len(classes)`` classes.
        source: human-readable name for figure captions,
            e.g. ``"procedural shapes (offline stand-in)"``.
        extra: other per-image label sets, each a tensor whose first dimension is ``n``
            (e.g. ``'coarse'`` for CIFAR-100, ``'base_index'`` for digits, ``'colour'`` for shapes).

    Raises:
        ValueError: wrong dtype or shape, or lengths that disagree.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    source: str
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8 \
                or self.images.ndim != 4 or self.images.shape[1] != 3:
            got = (f"{tuple(self.images.shape)} {self.images.dtype}"
                   if isinstance(self.images, torch.Tensor) else type(self.images).__name__)
            raise ValueError(f"ImageSet.images must be an (n, 3, H, W) uint8 tensor, got {got}")
        n = self.images.shape[0]
        if not isinstance(self.labels, torch.Tensor) or self.labels.dtype != torch.int64 \
                or tuple(self.labels.shape) != (n,):
            got = (f"{tuple(self.labels.shape)} {self.labels.dtype}"
                   if isinstance(self.labels, torch.Tensor) else type(self.labels).__name__)
            raise ValueError(f"ImageSet.labels must be an ({n},) int64 tensor, got {got}")
        self.classes = [str(c) for c in self.classes]
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(f"ImageSet.labels must lie in [0, {len(self.classes)}) "
                             f"(one per class name), got range [{int(self.labels.min())}, "
                             f"{int(self.labels.max())}]")
        for key, value in self.extra.items():
            if not isinstance(value, torch.Tensor) or value.ndim == 0 or value.shape[0] != n:
                raise ValueError(f"ImageSet.extra[{key!r}] must be a tensor with first dimension "
                                 f"{n}, got {getattr(value, 'shape', type(value).__name__)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, idx) -> ImageSet:
        """A new ImageSet of the rows ``idx`` (int indices, boolean mask, slice, array or tensor).

        Raises:
            ValueError: a boolean mask of the wrong length.
        """
        if isinstance(idx, slice):
            index = torch.arange(len(self))[idx]
        else:
            index = torch.as_tensor(np.asarray(idx) if not isinstance(idx, torch.Tensor) else idx)
            if index.dtype == torch.bool:
                if index.shape != (len(self),):
                    raise ValueError(f"a boolean subset mask needs shape ({len(self)},), "
                                     f"got {tuple(index.shape)}")
                index = index.nonzero().flatten()
            index = index.long().reshape(-1)
        return ImageSet(self.images[index], self.labels[index], list(self.classes), self.source,
                        {k: v[index] for k, v in self.extra.items()})


def data_root() -> Path:
    """Where real data sets live: ``$BOOK_DATA_DIR``, else ``~/.cache/projection-head-book/data``."""
    env = os.environ.get("BOOK_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "projection-head-book" / "data"


def split_seed(seed: int, split: str) -> int:
    """A seed for one split derived from ``seed``, so 'train' and 'test' never coincide.

    Raises:
        ValueError: seed is not a non-negative int or split is not 'train'/'test'.
    """
    _check_seed(seed)
    _check_split(split)
    return int(np.random.SeedSequence([int(seed), SPLITS.index(split)]).generate_state(1)[0])


def load_image_set(name: str, split: str, n: int | None, seed: int, root=None,
                   download: bool = False, **kwargs) -> ImageSet:
    """Load ``n`` images of data set ``name``, split ``split`` ('train' or 'test').

    ``'shapes'`` and ``'digits'`` are generated offline from ``seed`` (mixed with the split, so
    the same seed still gives different train and test images; digits' train and test draw on
    disjoint original images). ``'cifar10'``/``'cifar100'`` read the real data from ``root``
    (default :func:`data_root`) and, when ``n`` is given, keep a random ``n`` of them chosen by
    ``seed``; ``n=None`` keeps all. ``download`` only matters for CIFAR. Other keyword arguments
    go to the generator (e.g. ``colour_strength=0.3`` for shapes).

    Returns:
        ImageSet with images ``(n, 3, 32, 32) uint8`` (or ``size`` for the generated ones).

    Raises:
        ValueError: unknown name or split, bad n/seed, n larger than the real data set.
        FileNotFoundError: CIFAR files missing and ``download=False``.
    """
    if name not in DATA_NAMES:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATA_NAMES)}")
    _check_split(split)
    _check_seed(seed)
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1):
        raise ValueError(f"n must be a positive int (or None for all of CIFAR), got {n!r}")
    if name in ("shapes", "digits") and n is None:
        raise ValueError(f"n=None (everything) only applies to CIFAR; give a size for {name!r}")
    derived = split_seed(seed, split)
    if name == "shapes":
        from helpers.data.procedural import make_shapes
        return make_shapes(int(n), derived, **kwargs)
    if name == "digits":
        from helpers.data.digits import base_digit_indices, make_digits
        split_kw = {k: kwargs.pop(k) for k in ("split_seed", "test_fraction") if k in kwargs}
        bases = base_digit_indices(split, **split_kw)
        return make_digits(int(n), derived, base_indices=bases, **kwargs)

    from helpers.data.cifar import load_cifar10, load_cifar100
    loader = load_cifar10 if name == "cifar10" else load_cifar100
    full = loader(data_root() if root is None else root, train=(split == "train"),
                  download=download, **kwargs)
    if n is None:
        return full
    if n > len(full):
        raise ValueError(f"asked for n={n} {name} {split} images but the split has {len(full)}; "
                         "pass a smaller n or n=None for all")
    rng = np.random.default_rng(derived)
    return full.subset(np.sort(rng.permutation(len(full))[:n]))


def _check_seed(seed) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _check_split(split) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
