"""Coarse-to-fine label hierarchies for Chapter 6, "Class collapse" (and Part V, which reuses it).

Three data sources, one entry point :func:`load_hierarchy`; each returns an ``ImageSet`` whose
``labels`` are the **fine** classes and ``extra['coarse']`` the **coarse** class of each image
(:func:`coarse_of_fine` reads the fine -> coarse table off a set).

* ``'shape-families'`` - the offline stand-in (:func:`make_hierarchy`): the ten procedural
  shapes of :mod:`helpers.data.procedural`, grouped into five visual families of two
  (:data:`FAMILIES`): *round* (disc, ring), *square* (square, frame), *pointed* (triangle, star),
  *strokes* (bar, cross), *cut* (crescent, half-disc). Inside a family the two variants differ
  by one visual property (hollow or filled, points, a bite), so the fine label is learnable;
  colour, stripe texture, position, size, rotation and background are random nuisances,
  independent of both labels.
* ``'hue-families'`` - the offline stand-in the ``cpu`` profile trains on
  (:func:`make_hue_hierarchy`): fine = the object's hue, one of the ten hues of
  :data:`helpers.data.procedural.HUES`; coarse = five families of two neighbouring hues
  (:data:`HUE_FAMILIES`: reds, yellows, greens, blues, purples). Shape, texture, position, size,
  rotation and background are nuisances. Why a second stand-in: at the ``cpu`` budget (a width-4
  ResNet-18, a few hundred steps) a network trained on the shape families with SimCLR's
  augmentations stayed at chance on held-out images (without augmentation it only memorised
  the training images), whereas hue is learned within a few epochs.
* ``'cifar10-5'`` - real CIFAR-10 with its ten classes as fine labels and five super-classes of
  two (:data:`CIFAR10_GROUPS`, documented below) as coarse labels.
* ``'cifar100'`` - real CIFAR-100: 100 fine classes, the 20 super-classes of its
  ``coarse_labels`` (read by :func:`helpers.data.cifar.load_cifar100`).
"""

from __future__ import annotations

import numpy as np
import torch

from helpers.data.procedural import HUES, SHAPES, make_shapes
from helpers.data.registry import ImageSet, _check_seed, _check_split, load_image_set, split_seed

# family name -> the two shapes in it (names from procedural.SHAPES)
FAMILIES = {
    "round": ("disc", "ring"),
    "square": ("square", "frame"),
    "pointed": ("triangle", "star"),
    "strokes": ("bar", "cross"),
    "cut": ("crescent", "half-disc"),
}
# The fine classes of the stand-in, family by family: fine label 2k, 2k + 1 are family k.
SHAPE_FINE = tuple(s for pair in FAMILIES.values() for s in pair)

# hue family -> its two hues (names from procedural.HUES, which are in colour-circle order, so
# fine label f = hue index and coarse = f // 2)
HUE_FAMILIES = {"reds": ("red", "orange"), "yellows": ("yellow", "lime"),
                "greens": ("green", "cyan"), "blues": ("azure", "blue"),
                "purples": ("purple", "pink")}
assert tuple(h for pair in HUE_FAMILIES.values() for h in pair) == HUES

# CIFAR-10 class index -> super-class: the book's own grouping into pairs of visually and
# semantically close classes (the setting of "Are neurons actually collapsed?", Yang et al.
# 2023, which merges CIFAR-10 into 5 super-classes): airplane+ship, automobile+truck,
# bird+frog, cat+dog, deer+horse. CIFAR-10 order: airplane, automobile, bird, cat, deer, dog,
# frog, horse, ship, truck.
CIFAR10_GROUPS = {
    "air/water vehicle": ("airplane", "ship"),
    "road vehicle": ("automobile", "truck"),
    "small animal": ("bird", "frog"),
    "pet": ("cat", "dog"),
    "hoofed animal": ("deer", "horse"),
}
_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                    "ship", "truck")
CIFAR10_COARSE = tuple(
    next(k for k, (name, members) in enumerate(CIFAR10_GROUPS.items()) if c in members)
    for c in _CIFAR10_CLASSES)  # (10,): super-class of each CIFAR-10 class

HIERARCHY_NAMES = ("hue-families", "shape-families", "cifar10-5", "cifar100")


def coarse_names(name: str, root=None) -> list[str]:
    """The coarse class names of data source ``name`` (in coarse-label order).

    Raises:
        ValueError: unknown name. FileNotFoundError: CIFAR-100's meta file is missing.
    """
    if name == "shape-families":
        return list(FAMILIES)
    if name == "hue-families":
        return list(HUE_FAMILIES)
    if name == "cifar10-5":
        return list(CIFAR10_GROUPS)
    if name == "cifar100":
        from helpers.data.cifar import cifar100_coarse_classes
        from helpers.data.registry import data_root
        return cifar100_coarse_classes(data_root() if root is None else root)
    raise ValueError(f"unknown hierarchy {name!r}; valid names: {', '.join(HIERARCHY_NAMES)}")


def coarse_of_fine(images: ImageSet) -> torch.Tensor:
    """(n_fine,) int64: the coarse label of each fine class, read off the image set.

    Raises:
        ValueError: the set has no ``extra['coarse']``, or a fine class appears under two coarse
            labels (not a hierarchy).
    """
    if "coarse" not in images.extra:
        raise ValueError("the image set has no extra['coarse']; load it with load_hierarchy")
    table = torch.full((images.num_classes,), -1, dtype=torch.int64)
    for f, c in zip(images.labels.tolist(), images.extra["coarse"].tolist()):
        if table[f] not in (-1, c):
            raise ValueError(f"fine class {f} appears under coarse classes {int(table[f])} and "
                             f"{c}: the labels are not a hierarchy")
        table[f] = c
    return table


def make_hierarchy(n: int, seed: int, size: int = 32, noise: float = 0.1,
                   clutter: float = 1.0, return_masks: bool = False) -> ImageSet:
    """``n`` shape images with a two-level hierarchy: fine = shape (10), coarse = family (5).

    Fine classes are balanced (``n // 10`` or one more each) and shuffled. Colour and stripe
    texture are drawn independently of the shape (their ``*_strength`` is 0 in
    :func:`helpers.data.procedural.make_shapes`), as are position, size, rotation and
    background, so only the shape carries either label.

    Returns:
        ImageSet: images ``(n, 3, size, size) uint8``; labels ``(n,) int64`` fine in 0..9
        (names :data:`SHAPE_FINE`, family by family); ``extra['coarse']`` ``(n,) int64`` in
        0..4 (names ``list(FAMILIES)``), equal to ``labels // 2``; ``extra['colour']`` and
        ``extra['texture']`` the nuisance cues drawn; ``extra['mask']`` with ``return_masks``
        (as :func:`make_hue_hierarchy`).

    Raises:
        ValueError: as :func:`helpers.data.procedural.make_shapes` (bad n, seed, size, noise).
    """
    base = make_shapes(n, seed, size=size, shape_strength=1.0, colour_strength=0.0,
                       texture_strength=0.0, noise=noise, clutter=clutter,
                       return_masks=return_masks)
    # make_shapes labels follow procedural.SHAPES; renumber them family by family
    to_fine = torch.tensor([SHAPE_FINE.index(s) for s in SHAPES], dtype=torch.int64)
    fine = to_fine[base.extra["shape"]]
    extra = {"coarse": fine // 2, "colour": base.extra["colour"], "texture": base.extra["texture"]}
    if return_masks:
        extra["mask"] = base.extra["mask"]
    return ImageSet(base.images, fine, list(SHAPE_FINE),
                    "procedural shape families (offline stand-in: 5 families x 2 shapes)", extra)


def make_hue_hierarchy(n: int, seed: int, size: int = 32, noise: float = 0.1,
                       clutter: float = 1.0, return_masks: bool = False) -> ImageSet:
    """``n`` shape images with a two-level colour hierarchy: fine = hue (10), coarse = hue
    family (5, :data:`HUE_FAMILIES`).

    Fine classes are balanced and shuffled; the object's shape and stripe texture are drawn
    independently of the hue (``*_strength`` 0 in :func:`helpers.data.procedural.make_shapes`),
    as are position, size, rotation and background.

    Returns:
        ImageSet: images ``(n, 3, size, size) uint8``; labels ``(n,) int64`` fine in 0..9
        (names ``HUES``); ``extra['coarse']`` ``(n,)`` in 0..4 = ``labels // 2``;
        ``extra['shape']``, ``extra['texture']`` the nuisance cues drawn; with
        ``return_masks`` also ``extra['mask']`` ``(n, size, size) uint8``, the object's
        coverage (255 = inside; the images are the same with or without it).

    Raises:
        ValueError: as :func:`helpers.data.procedural.make_shapes`.
    """
    base = make_shapes(n, seed, size=size, shape_strength=0.0, colour_strength=1.0,
                       texture_strength=0.0, noise=noise, clutter=clutter,
                       return_masks=return_masks)
    fine = base.extra["colour"]
    extra = {"coarse": fine // 2, "shape": base.extra["shape"], "texture": base.extra["texture"]}
    if return_masks:
        extra["mask"] = base.extra["mask"]
    return ImageSet(base.images, fine.clone(), list(HUES),
                    "procedural hue families (offline stand-in: 5 families x 2 hues)", extra)


def read_hue_class(images: torch.Tensor, masks: torch.Tensor, min_pixels: int = 4,
                   min_saturation: float = 0.1) -> torch.Tensor:
    """The hue class an oracle that does not learn reads off each image of the hue stand-in:
    the HSV hue of the mean colour of the object's core (pixels the mask covers at least
    90 %, so the background blended into its edges stays out), rounded to the nearest of the
    ten class hues ``c / 10``.

    The mean colour, not a per-pixel vote: the stripe texture, brightness, contrast and
    saturation jitter scale the colour or add grey to it, which leave its hue unchanged (but for
    clipping), and the pixel noise averages out. Chapter 6's structure check reads the
    augmented views with it (masks cropped and flipped like the views): does a view keep the
    fine label? At 16 px it reads 96-97 % of crops as their clean image's class (crops alone,
    no colour jitter): the oracle's own noise, measured in ``tests/test_class_collapse.py``.

    Args:
        images: ``(n, 3, H, W)`` float in [0, 1] or uint8.
        masks: ``(n, H, W)`` object coverage in [0, 1] (float) or 0..255 (uint8).
        min_pixels: the fewest core pixels a readable view keeps.
        min_saturation: the least saturation of the mean colour (a grey view has no hue).

    Returns:
        ``(n,) int64``: the class 0..9, or -1 where the image has no readable hue (the object
        cropped away, or the view turned grey).

    Raises:
        ValueError: shapes that do not match.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, H, W), got {tuple(images.shape)}")
    expected = (images.shape[0],) + tuple(images.shape[2:])
    if tuple(masks.shape) != expected:
        raise ValueError(f"masks must be (n, H, W) = {expected}, got {tuple(masks.shape)}")
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    coverage = masks.float() / 255 if masks.dtype == torch.uint8 else masks.float()
    core = (coverage >= 0.9).float()
    count = core.sum(dim=(1, 2))
    mean = (x * core[:, None]).sum(dim=(2, 3)) / count.clamp_min(1)[:, None]  # (n, 3)
    top, bottom = mean.max(dim=1).values, mean.min(dim=1).values
    chroma = top - bottom
    saturation = chroma / top.clamp_min(1e-8)
    r, g, b = mean.unbind(dim=1)
    c = chroma.clamp_min(1e-8)
    sixths = torch.where(top == r, ((g - b) / c) % 6,  # HSV hue, in sixths of a turn
                         torch.where(top == g, (b - r) / c + 2, (r - g) / c + 4))
    classes = torch.round(sixths / 6 * len(HUES)).long() % len(HUES)
    readable = (count >= min_pixels) & (saturation >= min_saturation)
    return torch.where(readable, classes, torch.full_like(classes, -1))


def group_cifar10(images: ImageSet) -> ImageSet:
    """A CIFAR-10 ImageSet with ``extra['coarse']`` = its :data:`CIFAR10_GROUPS` super-class.

    Raises:
        ValueError: the set's classes are not CIFAR-10's ten, in CIFAR-10's order.
    """
    if tuple(images.classes) != _CIFAR10_CLASSES:
        raise ValueError(f"expected CIFAR-10's classes {_CIFAR10_CLASSES}, got {images.classes}")
    coarse = torch.tensor(CIFAR10_COARSE, dtype=torch.int64)[images.labels]
    return ImageSet(images.images, images.labels, list(images.classes),
                    "CIFAR-10 in 5 super-classes", {**images.extra, "coarse": coarse})


def load_hierarchy(name: str, split: str, n: int | None, seed: int, root=None,
                   download: bool = False, size: int = 32, return_masks: bool = False) -> ImageSet:
    """``n`` images of hierarchy ``name`` (:data:`HIERARCHY_NAMES`), ``split``
    'train' or 'test'; fine labels in ``labels``, coarse in ``extra['coarse']``.

    The stand-in is generated from ``seed`` mixed with the split (train and test differ); the
    CIFAR sets are read through :func:`helpers.data.load_image_set` (random ``n`` of the split,
    chosen by ``seed``; ``n=None`` for all) from ``root`` (default ``$BOOK_DATA_DIR``).
    ``return_masks`` adds the objects' masks, ``extra['mask']`` (the stand-ins only).

    Raises:
        ValueError: unknown name or split, bad n or seed, ``size`` given for CIFAR (32 only),
            ``return_masks`` for CIFAR (it has no masks).
        FileNotFoundError: the CIFAR files are missing (the message says how to get them).
    """
    _check_split(split)
    _check_seed(seed)
    if name in ("shape-families", "hue-families"):
        if n is None or isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int for the generated stand-in, got {n!r}")
        make = make_hierarchy if name == "shape-families" else make_hue_hierarchy
        return make(int(n), split_seed(seed, split), size=size, return_masks=return_masks)
    if name not in HIERARCHY_NAMES:
        raise ValueError(f"unknown hierarchy {name!r}; valid names: {', '.join(HIERARCHY_NAMES)}")
    if return_masks:
        raise ValueError(f"{name} has no object masks; return_masks applies to the stand-ins only")
    if size != 32:
        raise ValueError(f"CIFAR images are 32 x 32; size={size} applies to the stand-in only")
    if name == "cifar100":
        return load_image_set("cifar100", split, n, seed, root=root, download=download)
    return group_cifar10(load_image_set("cifar10", split, n, seed, root=root, download=download))
