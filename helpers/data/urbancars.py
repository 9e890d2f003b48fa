"""UrbanCars, procedural: the offline stand-in for Li et al.'s (CVPR 2023) UrbanCars (Chapter 7).

Each image shows three cues, each a different kind of visual feature:

* the **car** (the label, a *shape* cue): 0 = urban, a short, tall compact with a long cabin;
  1 = country, a slightly longer, lower car with a shorter cabin towards the front and slightly
  bigger wheels. The car sits at the centre at half the image width (the real set: scale 0.5 at
  the centre), with random colour, facing, position and size jitter, so only its outline tells
  the class;
* the **background** (a *scene / texture* cue): 0 = urban (buildings with window grids, road with
  lane marks; three variants: street, downtown, alley), 1 = country (sky, hills, furrowed field;
  three variants: field road, desert road, forest road);
* the **co-occurring object** (a *small object* cue, at the bottom centre; the real set puts a
  quarter-width object at (0.5, 0.875), here it is 0.36 of the width, centred at (0.5, 0.82)):
  0 = urban (stop sign, traffic light, fire hydrant), 1 = country (cow, horse, sheep).

Why these two departures from the real set's look (a nearly-as-different car pair, a larger
co-object): a shortcut is a cue the network learns *faster* than the label, and the stand-in
must have two. At 32 px a quarter-width object is 8 pixels; with a compact vs pickup car pair it
was learned more slowly than the car (test accuracy after epochs 1-3 of balanced training, cpu
sizes: car 50/50/89 %, co-object 50/52/65 %), so it was no shortcut. With the car pair closer
and the object 0.36 wide, a 6-epoch pilot (3 seeds) ordered the cues background > co-object >
car in every seed. Chapter 7 measures this on every run (``cue_learnability``) and its structure
check (``helpers.experiments.shortcuts.STRUCTURE``) reports the stand-in as failed otherwise.

Training data: each of background and co-object agrees with the label with probability 0.95,
independently (per class 3610 / 190 / 190 / 10 images where both agree / only the background
agrees / only the co-object agrees / neither; 8000 in all). Validation and test: 1000 each,
balanced over the 8 (label, background, co-object) groups.

Every random number is drawn up front in a fixed order that does not depend on the cue values,
so re-rendering the same split with a cue changed (``shift='bg_flip'``...) keeps the car, the
other cue and the noise identical: that is how background and co-object swaps are made. The
car and co-object masks and the background alone (``return_masks=True``) are what the released
UrbanCars stores next to each image; :func:`swap_cues` composites the Last Layer Ensemble's
augmentations from them exactly as the authors' ``UrbanCarsAug`` does, for the stand-in and
the real folders alike. Rendering is vectorised on coordinate grids (numpy, chunks of 2048).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from helpers.data.procedural import hsv_to_rgb
from helpers.data.registry import ImageSet

CLASSES = ("urban car", "country car")
BACKGROUNDS = (("street", "downtown", "alley"), ("field road", "desert road", "forest road"))
CO_OBJECTS = (("stop sign", "traffic light", "fire hydrant"), ("cow", "horse", "sheep"))
SPLITS = ("train", "val", "test")
TRAIN_COUNTS = (3610, 190, 190, 10)  # per class: both agree / bg only / co-object only / neither
GROUP_NAMES = tuple(f"{CLASSES[y].split()[0]} car, {('urban', 'country')[b]} bg, "
                    f"{('urban', 'country')[o]} obj" for y in (0, 1) for b in (0, 1) for o in (0, 1))
SHIFTS = ("none", "bg_flip", "coobj_flip", "both_flip", "bg_random", "coobj_random",
          "watermark_add", "watermark_remove", "style_edges", "style_colour")
WATERMARK_OPACITY = 0.5
OBJECT_SIZE = 0.36  # co-object width, fraction of the image side (see the module docstring)
_CHUNK = 2048
_cache: dict = {}


def group_index(label, bg, coobj):
    """Group of each image, 0..7 = 4 * label + 2 * background + co-object (see ``GROUP_NAMES``)."""
    return 4 * label + 2 * bg + coobj


def split_counts(split: str, n: int | None = None, bg_agree: float = 0.95,
                 obj_agree: float = 0.95) -> np.ndarray:
    """Images per group, (2 labels, 4 agreement patterns): both / bg only / obj only / neither.

    ``train``: ``n`` (default 8000) split evenly over the labels, then by the independent
    agreement probabilities (largest remainders, so the counts add up). ``val``/``test``:
    ``n`` (default 1000) balanced over the 8 groups (probabilities ignored).

    Raises:
        ValueError: unknown split, n not a positive int, a probability outside [0, 1], or an
            ``n`` that cannot be split evenly (odd for train, not a multiple of 8 for val/test).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    for name, p in (("bg_agree", bg_agree), ("obj_agree", obj_agree)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} is a probability and must lie in [0, 1], got {p!r}")
    n = (8000 if split == "train" else 1000) if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if split != "train":
        if n % 8:
            raise ValueError(f"{split} is balanced over 8 groups: n must be a multiple of 8, got {n}")
        return np.full((2, 4), n // 8, dtype=np.int64)
    if n % 2:
        raise ValueError(f"train has two equal classes: n must be even, got {n}")
    per_class = n // 2
    probs = np.array([bg_agree * obj_agree, bg_agree * (1 - obj_agree),
                      (1 - bg_agree) * obj_agree, (1 - bg_agree) * (1 - obj_agree)])
    exact = probs * per_class
    counts = np.floor(exact + 1e-9).astype(np.int64)
    short = per_class - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return np.stack([counts, counts])


def check_group_counts(counts, n: int | None = None) -> np.ndarray:
    """Validate user-given per-class counts (both / bg only / obj only / neither) -> (2, 4).

    Raises:
        ValueError: not 4 (or 2 x 4) non-negative ints, or a total that differs from ``n``.
    """
    arr = np.asarray(counts)
    if arr.shape == (4,):
        arr = np.stack([arr, arr])
    if arr.shape != (2, 4) or not np.issubdtype(arr.dtype, np.integer) or (arr < 0).any():
        raise ValueError("group_counts must be 4 non-negative ints per class (both agree, bg "
                         f"only, co-object only, neither), e.g. {TRAIN_COUNTS}; got {counts!r}")
    if n is not None and int(arr.sum()) != n:
        raise ValueError(f"group_counts add up to {int(arr.sum())} images but n={n}; "
                         "make them agree (the counts are per class, two classes)")
    if arr.sum() == 0:
        raise ValueError("group_counts are all zero: there would be no images")
    return arr.astype(np.int64)


def make_urbancars(split: str, size: int = 32, seed: int = 0, *, n: int | None = None,
                   bg_agree: float = 0.95, obj_agree: float = 0.95, group_counts=None,
                   shift: str = "none", watermark_class: int | None = None,
                   watermark_rate: float = 1.0, noise: float = 0.03,
                   return_masks: bool = False) -> ImageSet:
    """The procedural UrbanCars split (cached in memory: the same arguments return the same object).

    Args:
        split: 'train' (cue-label agreement ``bg_agree`` / ``obj_agree``, 8000 by default),
            'val' or 'test' (balanced over the 8 groups, 1000 by default).
        size: image height and width in pixels (>= 16).
        seed: the same seed and split give the same images; each split gets its own stream.
        n, bg_agree, obj_agree: see :func:`split_counts`. ``group_counts`` overrides them with
            explicit per-class counts (both, bg only, obj only, neither).
        shift: one of ``SHIFTS``: 'bg_flip' / 'coobj_flip' / 'both_flip' turn that cue to the
            other class's type for every image; 'bg_random' / 'coobj_random' re-draw its type at
            random (half the images keep theirs; the Last Layer Ensemble's augmentations are
            :func:`swap_cues` instead); 'watermark_add' marks every image,
            'watermark_remove' none; 'style_edges' (an edge sketch) and 'style_colour' (colours
            permuted, contrast lowered) change the style, not the content. Cues in ``extra``
            describe the shifted images.
        watermark_class: if given, a translucent text watermark (opacity 0.5, left edge, 40 %
            height; the ImageNet-W analogue) is put on a ``watermark_rate`` fraction of that
            class's images (a fourth shortcut).
        noise: Gaussian pixel noise std (units of the full 0..1 range).
        return_masks: add ``extra['car_mask']`` and ``extra['obj_mask']`` (n, size, size) uint8
            and ``extra['bg_only']`` (n, 3, size, size) uint8, the background without car and
            co-object (same noise), as the released set's ``NNN_bg_only.png``.

    Returns:
        ImageSet: images (n, 3, size, size) uint8, labels (n,) int64 (0 urban, 1 country);
        ``extra``: 'bg', 'coobj' (n,) int64 cue types, 'group' (n,) (:func:`group_index`),
        'watermark' (n,) int64 0/1, and the masks when asked.

    Raises:
        ValueError: a bad split, size, seed, probability, group count, shift name or class.
    """
    key = (split, size, seed, n, bg_agree, obj_agree,
           None if group_counts is None else tuple(np.asarray(group_counts).ravel().tolist()),
           shift, watermark_class, watermark_rate, noise, return_masks)
    if key in _cache:
        return _cache[key]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int >= 16 pixels, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}; valid shifts: {', '.join(SHIFTS)}")
    if watermark_class not in (None, 0, 1):
        raise ValueError(f"watermark_class must be None, 0 or 1, got {watermark_class!r}")
    if not 0.0 <= float(watermark_rate) <= 1.0:
        raise ValueError(f"watermark_rate is a probability in [0, 1], got {watermark_rate!r}")
    if not float(noise) >= 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise!r}")
    counts = (split_counts(split, n, bg_agree, obj_agree) if group_counts is None
              else check_group_counts(group_counts, n))

    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), 2023]))
    label, bg, coobj = _cue_arrays(counts)
    perm = rng.permutation(len(label))
    label, bg, coobj = label[perm], bg[perm], coobj[perm]
    p = _draw_parameters(rng, len(label), size)
    wm = np.zeros(len(label), dtype=bool)
    if watermark_class is not None:
        wm = (label == watermark_class) & (p["u_watermark"] < watermark_rate)
    bg, coobj, wm = _apply_cue_shift(shift, label, bg, coobj, wm, p)

    images = np.empty((len(label), 3, size, size), dtype=np.uint8)
    masks = {k: np.empty((len(label), size, size), dtype=np.uint8)
             for k in ("car_mask", "obj_mask")} if return_masks else {}
    if return_masks:
        masks["bg_only"] = np.empty((len(label), 3, size, size), dtype=np.uint8)
    mark = watermark_mask(size)
    for start in range(0, len(label), _CHUNK):
        sl = slice(start, min(len(label), start + _CHUNK))
        chunk = {k: v[sl] for k, v in p.items()}
        img, car_m, obj_m, bg_img = _render(chunk, label[sl], bg[sl], coobj[sl], size)
        w = wm[sl][:, None, None, None] * (WATERMARK_OPACITY * mark)[None, None]
        img = img * (1 - w) + w  # white text at 50 % opacity
        img = img + p["noise"][sl] * np.float32(noise)
        if shift == "style_edges":
            img = _edge_sketch(img)
        elif shift == "style_colour":
            img = 0.25 + 0.5 * img[:, ::-1]  # channels reversed, contrast halved
        images[sl] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
        if return_masks:
            masks["car_mask"][sl] = np.clip(car_m * 255 + 0.5, 0, 255).astype(np.uint8)
            masks["obj_mask"][sl] = np.clip(obj_m * 255 + 0.5, 0, 255).astype(np.uint8)
            bg_img = bg_img + p["noise"][sl] * np.float32(noise)
            masks["bg_only"][sl] = np.clip(bg_img * 255 + 0.5, 0, 255).astype(np.uint8)

    extra = {"bg": torch.from_numpy(bg.astype(np.int64)),
             "coobj": torch.from_numpy(coobj.astype(np.int64)),
             "group": torch.from_numpy(group_index(label, bg, coobj).astype(np.int64)),
             "watermark": torch.from_numpy(wm.astype(np.int64))}
    extra.update({k: torch.from_numpy(v) for k, v in masks.items()})
    source = "procedural UrbanCars (offline stand-in)" + ("" if shift == "none" else f", {shift}")
    out = ImageSet(torch.from_numpy(images), torch.from_numpy(label.astype(np.int64)),
                   list(CLASSES), source, extra)
    if len(_cache) > 24:
        _cache.clear()
    _cache[key] = out
    return out


def composite(background: torch.Tensor, layers) -> torch.Tensor:
    """Paste ``layers`` [(image (n, 3, H, W), mask (n, H, W) uint8 or float in [0, 1]), ...] in
    order over ``background`` (n, 3, H, W); uint8 in -> uint8 out. A swap with masks: paste the
    car and co-object of one image over another's background.

    Raises:
        ValueError: shapes that disagree.
    """
    out = background.float()
    for image, mask in layers:
        if image.shape != background.shape or mask.shape != (background.shape[0],
                                                             *background.shape[2:]):
            raise ValueError(f"layer image {tuple(image.shape)} / mask {tuple(mask.shape)} do not "
                             f"match the background {tuple(background.shape)}")
        m = mask.float() / (255.0 if mask.dtype == torch.uint8 else 1.0)
        out = out * (1 - m[:, None]) + image.float() * m[:, None]
    return out.round().clamp(0, 255).to(torch.uint8) if background.dtype == torch.uint8 else out


SWAP_MODES = ("bg", "coobj")


def swap_cues(data: ImageSet, mode: str, seed: int) -> ImageSet:
    """The Last Layer Ensemble's augmentation (Li et al. 2023; ``UrbanCarsAug``): every image
    keeps its car and gets a background and a co-object pasted from *other* images.

    ``mode='bg'``: the background (``bg_only``) of a random image of the **other** class and the
    co-object of a random other image of the same class; ``mode='coobj'``: the reverse (the
    co-object from the other class). Composited as the authors do: co-object over background by
    the co-object mask, then the car over that by the car mask. The sources are never the image
    itself, so no augmented image is its original.

    Args:
        data: an ImageSet with ``extra`` 'car_mask', 'obj_mask' (n, H, W) uint8, 'bg_only'
            (n, 3, H, W) uint8, 'bg', 'coobj' ((n,) cue types): :func:`make_urbancars` with
            ``return_masks=True``, or the real training split
            (:func:`helpers.data.urbancars_real.load_urbancars`).
        mode: 'bg' or 'coobj' (:data:`SWAP_MODES`). seed: draws the source images.

    Returns:
        ImageSet of the same labels; ``extra`` 'bg' and 'coobj' are the pasted cues' types,
        'group' recomputed, 'bg_source' and 'obj_source' the (n,) indices they came from.

    Raises:
        ValueError: an unknown mode, missing masks or background, or a class with fewer than 2
            images.
    """
    if mode not in SWAP_MODES:
        raise ValueError(f"mode must be one of {SWAP_MODES}, got {mode!r}")
    need = ("car_mask", "obj_mask", "bg_only", "bg", "coobj")
    missing = [k for k in need if k not in data.extra]
    if missing:
        raise ValueError(f"swap_cues needs extra {missing}: build the stand-in with "
                         "make_urbancars(..., return_masks=True), or load the real training "
                         "split with its masks and NNN_bg_only.png")
    y = data.labels
    rng = np.random.default_rng(np.random.SeedSequence([seed, SWAP_MODES.index(mode), 77]))
    members = [np.flatnonzero(y.numpy() == c) for c in (0, 1)]
    if min(len(m) for m in members) < 2:
        raise ValueError("swap_cues needs at least 2 images of each class")

    def draw(other_class: bool) -> np.ndarray:
        out = np.empty(len(y), dtype=np.int64)
        for c in (0, 1):
            mine = members[c]
            pool = members[1 - c] if other_class else mine
            pick = rng.integers(0, len(pool) - (0 if other_class else 1), len(mine))
            if not other_class:  # the same class without the image itself
                pick = pick + (pick >= np.arange(len(mine)))  # skip its own position
            out[mine] = pool[pick]
        return out

    bg_src, obj_src = draw(mode == "bg"), draw(mode == "coobj")
    b, o = torch.from_numpy(bg_src), torch.from_numpy(obj_src)
    e = data.extra
    images = composite(e["bg_only"][b], [(data.images[o], e["obj_mask"][o]),
                                         (data.images, e["car_mask"])])
    bg, coobj = e["bg"][b], e["coobj"][o]
    extra = {k: v for k, v in e.items() if k not in ("bg", "coobj", "group", "bg_only")}
    extra.update(bg=bg, coobj=coobj, group=group_index(y, bg, coobj), bg_source=b, obj_source=o)
    extra["obj_mask"] = e["obj_mask"][o]
    return ImageSet(images, y.clone(), list(data.classes), f"{data.source}, {mode} swapped",
                    extra)


def watermark_mask(size: int, text: str = "WATERMARK") -> np.ndarray:
    """(size, size) float32 coverage of a text watermark: left edge, centred at 40 % height,
    about 12 % of the image high (ImageNet-W's placement, Li et al. 2023). Rendered with PIL's
    default font at 4x and downsampled, so it stays smooth at 32 px."""
    from PIL import Image, ImageDraw, ImageFont

    big = 4 * size
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    try:  # a scalable font needs Pillow >= 10.1; older versions have one bitmap size
        font = ImageFont.load_default(size=max(8, int(0.14 * big)))
    except TypeError:
        font = ImageFont.load_default()
    top = int(0.40 * big - 0.07 * big)
    draw.text((int(0.03 * big), top), text, fill=255, font=font)
    small = canvas.resize((size, size), Image.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


# --- internals ---------------------------------------------------------------------------

def _cue_arrays(counts: np.ndarray):
    """Label, background and co-object type of every image, in group order (before shuffling)."""
    label, bg, coobj = [], [], []
    for y in (0, 1):
        for k, (b_ok, o_ok) in enumerate(((1, 1), (1, 0), (0, 1), (0, 0))):
            m = int(counts[y, k])
            label += [y] * m
            bg += [y if b_ok else 1 - y] * m
            coobj += [y if o_ok else 1 - y] * m
    return np.array(label), np.array(bg), np.array(coobj)


def _apply_cue_shift(shift, label, bg, coobj, wm, p):
    rand = (p["u_shift"] < 0.5).astype(np.int64)
    if shift in ("bg_flip", "both_flip"):
        bg = 1 - bg
    if shift in ("coobj_flip", "both_flip"):
        coobj = 1 - coobj
    if shift == "bg_random":
        bg = rand
    if shift == "coobj_random":
        coobj = rand
    if shift == "watermark_add":
        wm = np.ones_like(wm)
    if shift == "watermark_remove":
        wm = np.zeros_like(wm)
    return bg, coobj, wm


def _draw_parameters(rng, n: int, size: int) -> dict:
    """Every random number of every image, in a fixed order (independent of the cue values)."""
    f32 = np.float32
    u = lambda *shape: rng.random((n, *shape), dtype=f32)  # noqa: E731
    p = {"u_shift": u(), "u_watermark": u(), "variant_bg": u(), "variant_obj": u()}
    # car: centre, length (fraction of the image), facing, colour
    p["car_x"] = 0.5 + 0.04 * (2 * u() - 1)
    p["car_y"] = 0.56 + 0.03 * (2 * u() - 1)
    p["car_len"] = 0.5 * (0.9 + 0.2 * u())
    p["car_flip"] = np.where(u() < 0.5, -1, 1).astype(f32)
    p["car_rgb"] = hsv_to_rgb(u(), 0.3 + 0.7 * u(), 0.35 + 0.6 * u())
    # co-object: centre, size, colour jitter
    p["obj_x"] = 0.5 + 0.03 * (2 * u() - 1)
    p["obj_y"] = 0.82 + 0.015 * (2 * u() - 1)
    p["obj_size"] = OBJECT_SIZE * (0.9 + 0.2 * u())
    p["obj_shade"] = 0.8 + 0.2 * u()
    # background: colours, horizon, building heights, texture phases
    p["bg_hue"], p["bg_sat"], p["bg_val"] = u(), u(), u()
    p["horizon"] = 0.38 + 0.08 * u()
    p["heights"] = 0.1 + 0.3 * u(8)  # 8 building columns
    p["phase"] = 2 * np.pi * u(3)
    p["freq"] = 0.8 + 0.4 * u()
    p["noise"] = rng.standard_normal((n, 3, size, size), dtype=f32)
    return p


def _cov(d, size):
    """Signed distance (image units, negative inside) -> anti-aliased coverage in [0, 1]."""
    return np.clip(0.5 - d * size, 0.0, 1.0)


def _box(x, y, x0, x1, y0, y1):
    return np.maximum(np.maximum(x0 - x, x - x1), np.maximum(y0 - y, y - y1))


def _ellipse(x, y, cx, cy, a, b):
    return (np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2) - 1) * np.minimum(a, b)


def _render(p, label, bg, coobj, size):
    """Noise-free images (b, 3, S, S) float32 in [0, 1], car and co-object coverage (b, S, S),
    and the background alone (b, 3, S, S)."""
    g = (np.arange(size, dtype=np.float32) + 0.5) / size
    x, y = g[None, None, :], g[None, :, None]  # (1, 1, S), (1, S, 1); y grows downwards
    col = lambda k: p[k][:, None, None]  # noqa: E731

    img = _background(p, bg, x, y, size, col)
    background = img.copy()
    # --- car (label): local coordinates in car lengths, cu along the car, cv up from the axles
    L = col("car_len")
    cu = (x - col("car_x")) / L * col("car_flip")
    cv = (col("car_y") - y) / L
    country = (label == 1)[:, None, None]
    # body: compact (0) short and tall, with a long cabin; country car (1) a little longer and
    # lower, its shorter cabin towards the front, slightly bigger wheels set further out. Kept
    # this close on purpose (module docstring): the car must be learned more slowly than either shortcut.
    lower = np.where(country, _box(cu, cv, -0.41, 0.41, 0.02, 0.23),
                     _box(cu, cv, -0.38, 0.38, 0.02, 0.24))
    cabin = np.where(country, _box(cu, cv, -0.2, 0.3, 0.2, 0.5),
                     np.maximum(_box(cu, cv, -0.36, 0.24, 0.2, 0.55), (cu - 0.1) + 0.9 * (cv - 0.55)))
    r_wheel = np.where(country, 0.1, 0.09)
    wx = np.where(country, 0.27, 0.25)
    wheels = np.minimum(_ellipse(cu, cv, -wx, 0.0, r_wheel, r_wheel),
                        _ellipse(cu, cv, wx, 0.0, r_wheel, r_wheel))
    window = np.where(country, _box(cu, cv, 0.08, 0.28, 0.24, 0.38),
                      _box(cu, cv, -0.3, 0.16, 0.27, 0.48))
    body_m = _cov(np.minimum(lower, cabin) * L, size)
    wheel_m = _cov(wheels * L, size)
    win_m = _cov(window * L, size) * body_m
    car_rgb = p["car_rgb"][:, :, None, None]
    img = _over(img, car_rgb, body_m)
    img = _over(img, np.float32(0.75) * np.array([0.7, 0.8, 0.9], np.float32)[None, :, None, None],
                win_m)
    img = _over(img, np.float32(0.08), wheel_m)
    car_m = np.maximum(body_m, wheel_m)

    # --- co-object: local coordinates in object sizes, ou right, ov up from its base
    S = col("obj_size")
    ou = (x - col("obj_x")) / S
    ov = (col("obj_y") + 0.5 * S - y) / S
    variant = np.minimum((p["variant_obj"] * 3).astype(int), 2)
    obj_m = np.zeros_like(car_m)
    shade = col("obj_shade")[:, None]
    for t in (0, 1):
        for v in range(3):
            sel = np.flatnonzero((coobj == t) & (variant == v))
            if sel.size:
                parts = _OBJECTS[t][v](ou[sel], ov[sel])
                for d, rgb in parts:
                    m = _cov(d * S[sel], size)
                    img[sel] = _over(img[sel], shade[sel] * np.asarray(rgb, np.float32)[None, :, None, None], m)
                    obj_m[sel] = np.maximum(obj_m[sel], m)
    return img, car_m, obj_m, background


def _over(img, rgb, m):
    return img * (1 - m[:, None]) + rgb * m[:, None]


def _background(p, bg, x, y, size, col):
    """Urban: buildings with lit window grids over a road with lane marks. Country: sky, hills
    and a furrowed field. Colours random within each type's range."""
    b = len(bg)
    hz = col("horizon")
    variant = np.minimum((p["variant_bg"] * 3).astype(int), 2)[:, None, None]
    # urban: buildings of 8 random heights (downtown taller), windows, grey road
    column = np.minimum((x * 8).astype(int), 7) + np.zeros((b, 1, 1), int)
    heights = np.take_along_axis(p["heights"], column.reshape(b, -1), axis=1).reshape(column.shape)
    heights = heights * np.where(variant == 1, 1.6, 1.0) + np.where(variant == 2, 0.2, 0.0)
    building = (y > hz + 0.12 - heights) & (y < 0.7)
    windows = (np.sin(2 * np.pi * 14 * x) > 0.2) & (np.sin(2 * np.pi * 12 * y + col("phase")[..., 0]) > 0.1)
    wall = hsv_to_rgb(p["bg_hue"], 0.1 + 0.25 * p["bg_sat"], 0.35 + 0.35 * p["bg_val"])
    sky_u = hsv_to_rgb(0.58 + 0.05 * p["bg_hue"], np.full(b, 0.15), 0.75 + 0.2 * p["bg_val"])
    road = (y >= 0.7)
    lane = road & (np.abs(y - 0.85) < 0.015) & (np.sin(2 * np.pi * 6 * x + col("phase")[..., 1]) > 0)
    urban = np.where(building[:, None], wall[:, :, None, None] *
                     np.where(windows, 1.45, 0.8)[:, None], sky_u[:, :, None, None])
    urban = np.where(road[:, None], np.float32(0.3), urban)
    urban = np.where(lane[:, None], np.float32(0.9), urban)
    # country: sky, rolling hills at the horizon, a field with horizontal furrows
    hill = hz + 0.04 * np.sin(2 * np.pi * col("freq") * x + col("phase")[..., 2])
    ground_hue = np.where(variant[:, 0, 0] == 1, 0.1, np.where(variant[:, 0, 0] == 2, 0.3, 0.22))
    field = hsv_to_rgb(ground_hue + 0.04 * (p["bg_hue"] - 0.5), 0.45 + 0.4 * p["bg_sat"],
                       0.35 + 0.4 * p["bg_val"])
    sky_c = hsv_to_rgb(np.full(b, 0.57), 0.35 + 0.3 * p["bg_sat"], 0.8 + 0.15 * p["bg_val"])
    furrow = 1 + 0.25 * np.sin(2 * np.pi * 3 / np.maximum(y - hill + 0.05, 0.02) * 0.05)
    country = np.where((y > hill)[:, None], field[:, :, None, None] * furrow[:, None],
                       sky_c[:, :, None, None])
    trees = (variant == 2) & (np.abs(y - hill + 0.04) < 0.04 + 0.03 * np.sin(40 * x))
    country = np.where(trees[:, None], np.float32(0.12) * np.array([0.5, 1.2, 0.5], np.float32)[None, :, None, None], country)
    out = np.where((bg == 1)[:, None, None, None], country, urban).astype(np.float32)
    return np.ascontiguousarray(out)


def _stop_sign(u, v):
    pole = _box(u, v, -0.04, 0.04, 0.0, 0.65)
    octagon = np.maximum(np.abs(u) + np.abs(v - 0.75) * 0.0, np.abs(v - 0.75))
    octagon = np.maximum(octagon, (np.abs(u) + np.abs(v - 0.75)) / 1.3) - 0.22
    return [(pole, (0.55, 0.55, 0.55)), (octagon, (0.85, 0.08, 0.08))]


def _traffic_light(u, v):
    pole = _box(u, v, -0.04, 0.04, 0.0, 0.5)
    box = _box(u, v, -0.12, 0.12, 0.45, 0.98)
    lights = [(_ellipse(u, v, 0, c, 0.07, 0.07), rgb)
              for c, rgb in ((0.88, (0.9, 0.1, 0.1)), (0.72, (0.95, 0.8, 0.1)), (0.56, (0.1, 0.8, 0.2)))]
    return [(pole, (0.3, 0.3, 0.3)), (box, (0.1, 0.1, 0.1))] + lights


def _hydrant(u, v):
    body = np.minimum(_box(u, v, -0.16, 0.16, 0.0, 0.5), _ellipse(u, v, 0, 0.5, 0.16, 0.12))
    nubs = _box(u, v, -0.26, 0.26, 0.25, 0.35)
    return [(np.minimum(body, nubs), (0.85, 0.15, 0.05))]


def _quadruped(u, v, body_rgb, body_h, leg_len, patches=False, round_body=False):
    a = 0.32 if round_body else 0.36
    body = _ellipse(u, v, 0.0, leg_len + body_h / 2, a, body_h / 2)
    legs = functools.reduce(np.minimum, [_box(u, v, x0, x0 + 0.06, 0.0, leg_len + 0.05)
                                         for x0 in (-0.28, -0.16, 0.12, 0.22)])
    head = _ellipse(u, v, 0.42, leg_len + body_h * 0.95, 0.1, 0.08)
    parts = [(np.minimum(np.minimum(body, legs), head), body_rgb)]
    if patches:
        spots = np.maximum(body, np.sin(20 * u) * np.sin(17 * v) - 0.3)
        parts.append((spots, (0.08, 0.08, 0.08)))
    return parts


def _cow(u, v):
    return _quadruped(u, v, (0.92, 0.92, 0.9), 0.3, 0.25, patches=True)


def _horse(u, v):
    return _quadruped(u, v, (0.45, 0.25, 0.1), 0.26, 0.38)


def _sheep(u, v):
    return _quadruped(u, v, (0.95, 0.93, 0.85), 0.4, 0.15, round_body=True)


_OBJECTS = ((_stop_sign, _traffic_light, _hydrant), (_cow, _horse, _sheep))


def _edge_sketch(img):
    """Style shift: a dark-on-white edge sketch of the image (gradient magnitude of its grey)."""
    grey = img.mean(axis=1)
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[:, :, 1:-1] = grey[:, :, 2:] - grey[:, :, :-2]
    gy[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    mag = np.sqrt(gx ** 2 + gy ** 2)
    mag = mag / (mag.reshape(len(mag), -1).max(axis=1)[:, None, None] + 1e-6)
    return np.repeat((1 - mag)[:, None], 3, axis=1)
