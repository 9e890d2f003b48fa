"""Procedural shapes: a 10-class RGB image set, the offline stand-in for CIFAR-10.

Every class ``c`` is defined by three kinds of evidence: a **shape** (``SHAPES[c]``), a
**colour** (hue ``c / 10`` of the colour circle, ``HUES[c]``) and a **texture** (stripes inside
the object, ``TEXTURES[c]``: one of five orientations, fine or coarse). Each ``*_strength`` is
the probability that an image's cue of that kind is its class's own; otherwise the cue is drawn
uniformly from the ten (so strength 0 makes the cue independent of the label, 1 makes it fully
class-determined). The cue actually drawn is kept in ``extra['shape' | 'colour' | 'texture']``.

Nuisances: random position (the object may be cut by the border), scale and rotation; a
background of random colour with a gradient, faint stripes of random orientation and a soft
distractor blob; Gaussian pixel noise. Random crops cut the shape and rescale the stripes,
colour jitter shifts the hue: SimCLR's augmentations interact with each cue differently.
Everything is rendered at once on coordinate grids (a loop over the ten shape types only).
"""

from __future__ import annotations

import numpy as np
import torch

from helpers.data.registry import ImageSet

SHAPES = ("disc", "square", "triangle", "cross", "ring", "bar", "star", "crescent",
          "half-disc", "frame")
HUES = ("red", "orange", "yellow", "lime", "green", "cyan", "azure", "blue", "purple", "pink")
_ANGLES = (0, 36, 72, 108, 144)  # stripe orientation in degrees, textures t and t + 5
TEXTURES = tuple(f"{'fine' if t < 5 else 'coarse'} {_ANGLES[t % 5]}°" for t in range(10))
CLASSES = tuple(f"{s}/{h}/{t}" for s, h, t in zip(SHAPES, HUES, TEXTURES))
_CHUNK = 2048  # images rendered at once: bounds memory, not results


def make_shapes(n: int, seed: int, size: int = 32, shape_strength: float = 1.0,
                colour_strength: float = 1.0, texture_strength: float = 1.0,
                noise: float = 0.1, clutter: float = 1.0, return_masks: bool = False) -> ImageSet:
    """``n`` procedural images, classes balanced (``n // 10`` or one more each), shuffled.

    Args:
        n: number of images.
        seed: seeds a ``numpy.random.Generator``; same seed, same images.
        size: height and width in pixels (the cue scales are relative to 32).
        shape_strength, colour_strength, texture_strength: in [0, 1], the probability that the
            image's shape / hue / stripe texture is its class's own rather than a random one.
        noise: standard deviation of the Gaussian pixel noise, in units of the full 0..255 range.
        clutter: in [0, 1], how strong the background gradient, stripes and distractor blob are.
        return_masks: also return ``extra['mask']``, the object's ``(n, size, size) uint8``
            coverage (255 = inside), for figures and tests.

    Returns:
        ImageSet: images ``(n, 3, size, size) uint8``, labels ``(n,) int64`` in 0..9, and
        ``extra`` ``'shape'``, ``'colour'``, ``'texture'`` ``(n,) int64``: the cue drawn
        (index into ``SHAPES``, ``HUES``, ``TEXTURES``).

    Raises:
        ValueError: n, seed or size not a positive int (size at least 8), strengths or clutter
            outside [0, 1], negative noise.
    """
    _check_int("n", n, 1)
    _check_int("seed", seed, 0)
    _check_int("size", size, 8)
    for name, value in (("shape_strength", shape_strength), ("colour_strength", colour_strength),
                        ("texture_strength", texture_strength), ("clutter", clutter)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1] (0 = uninformative, 1 = full), got {value}")
    if not float(noise) >= 0.0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")

    rng = np.random.default_rng(seed)
    p = _draw_parameters(rng, n, size, shape_strength, colour_strength, texture_strength, clutter)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=np.uint8) if return_masks else None
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        img, mask = _render({k: v[sl] for k, v in p.items()}, size)
        if noise > 0:
            img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise)
        images[sl] = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if masks is not None:
            masks[sl] = np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)

    strengths = (shape_strength, colour_strength, texture_strength)
    source = "procedural shapes (offline stand-in for CIFAR-10)"
    if any(float(s) != 1.0 for s in strengths):
        source = ("procedural shapes (offline stand-in; cue strengths shape {:g}, colour {:g}, "
                  "texture {:g})".format(*map(float, strengths)))
    extra = {k: torch.from_numpy(p[k].astype(np.int64)) for k in ("shape", "colour", "texture")}
    if masks is not None:
        extra["mask"] = torch.from_numpy(masks)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(p["label"].astype(np.int64)),
                    list(CLASSES), source, extra)


def _draw_parameters(rng, n, size, s_shape, s_colour, s_texture, clutter) -> dict:
    """Every per-image random number, drawn up front in a fixed order (results do not depend
    on the rendering chunk size). Lengths in pixels, angles in radians, colours in [0, 1]."""
    label = rng.permutation(np.arange(n) % 10)

    def cue(strength):
        own = rng.random(n) < strength
        return np.where(own, label, rng.integers(0, 10, n))

    p = {"label": label, "shape": cue(s_shape), "colour": cue(s_colour), "texture": cue(s_texture)}
    f32 = np.float32
    # object geometry
    p["radius"] = (rng.uniform(0.22, 0.36, n) * size).astype(f32)
    p["cx"] = rng.uniform(0.6 * p["radius"], size - 0.6 * p["radius"]).astype(f32)
    p["cy"] = rng.uniform(0.6 * p["radius"], size - 0.6 * p["radius"]).astype(f32)
    p["angle"] = rng.uniform(0, 2 * np.pi, n).astype(f32)
    # object colour: class hue +- 7 degrees, random saturation and value
    hue = p["colour"] / 10.0 + rng.normal(0, 0.02, n)
    p["fg"] = hsv_to_rgb(hue, rng.uniform(0.55, 1.0, n), rng.uniform(0.55, 1.0, n))
    # object texture: stripes of the cue's orientation (+- 4 degrees) and period, random phase
    p["tex_angle"] = (np.deg2rad(np.asarray(_ANGLES)[p["texture"] % 5])
                      + rng.normal(0, np.deg2rad(4), n)).astype(f32)
    period = np.where(p["texture"] < 5, 4.0, 7.0) * rng.uniform(0.93, 1.07, n) * size / 32
    p["tex_freq"] = (2 * np.pi / period).astype(f32)
    p["tex_phase"] = rng.uniform(0, 2 * np.pi, n).astype(f32)
    p["tex_contrast"] = rng.uniform(0.45, 0.65, n).astype(f32)
    # background: random colour, gradient, faint random stripes, a soft distractor blob
    p["bg"] = hsv_to_rgb(rng.random(n), rng.uniform(0, 0.6, n), rng.uniform(0.15, 0.85, n))
    p["grad_angle"] = rng.uniform(0, 2 * np.pi, n).astype(f32)
    p["grad_amp"] = (rng.uniform(0, 0.3, n) * clutter / size).astype(f32)
    p["bgs_angle"] = rng.uniform(0, np.pi, n).astype(f32)
    p["bgs_freq"] = (2 * np.pi / (rng.uniform(3, 12, n) * size / 32)).astype(f32)
    p["bgs_phase"] = rng.uniform(0, 2 * np.pi, n).astype(f32)
    p["bgs_amp"] = (rng.uniform(0, 0.2, n) * clutter).astype(f32)
    p["blob"] = hsv_to_rgb(rng.random(n), rng.uniform(0, 1, n), rng.uniform(0.2, 1, n))
    p["blob_x"] = rng.uniform(0, size, n).astype(f32)
    p["blob_y"] = rng.uniform(0, size, n).astype(f32)
    p["blob_sigma"] = (rng.uniform(0.06, 0.15, n) * size).astype(f32)
    p["blob_alpha"] = (rng.uniform(0.3, 0.8, n) * clutter).astype(f32)
    return p


def _render(p: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free images ``(b, 3, size, size) float32`` in about [0, 1] and masks ``(b, size,
    size) float32`` in [0, 1] for one chunk of parameters."""
    b = len(p["label"])
    grid = np.arange(size, dtype=np.float32) + 0.5
    x, y = grid[None, None, :], grid[None, :, None]  # (1, 1, W), (1, H, 1)

    def col(name):  # per-image scalar broadcast over (b, H, W)
        return p[name][:, None, None]

    # background
    def ramp(angle):  # (b, H, W): coordinate along direction `angle`
        return x * np.cos(col(angle)) + y * np.sin(col(angle))

    bg = p["bg"][:, :, None, None] * (1 + col("grad_amp") * (ramp("grad_angle") - size / 2)
                                      )[:, None]
    stripes = np.sin(ramp("bgs_angle") * col("bgs_freq") + col("bgs_phase"))
    bg = bg * (1 + col("bgs_amp") * stripes)[:, None]
    d2 = (x - col("blob_x")) ** 2 + (y - col("blob_y")) ** 2
    alpha = (col("blob_alpha") * np.exp(-d2 / (2 * col("blob_sigma") ** 2)))[:, None]
    bg = bg * (1 - alpha) + p["blob"][:, :, None, None] * alpha

    # object: shape mask in the object's rotated frame (radius 1), textured colour
    dx, dy = x - col("cx"), y - col("cy")
    cos, sin, r = np.cos(col("angle")), np.sin(col("angle")), col("radius")
    u, v = (dx * cos + dy * sin) / r, (dy * cos - dx * sin) / r
    mask = np.empty((b, size, size), dtype=np.float32)
    for k, sdf in enumerate(_SDFS):
        sel = np.flatnonzero(p["shape"] == k)
        if sel.size:  # signed distance in pixels -> anti-aliased coverage
            mask[sel] = np.clip(0.5 - sdf(u[sel], v[sel]) * r[sel], 0.0, 1.0)
    wave = 0.5 + 0.5 * np.sin(ramp("tex_angle") * col("tex_freq") + col("tex_phase"))
    fg = p["fg"][:, :, None, None] * (1 - col("tex_contrast") * wave)[:, None]
    m = mask[:, None]
    return bg * (1 - m) + fg * m, mask


# Signed distance (negative inside) of each shape in SHAPES, in units of the object radius.
def _disc(u, v):
    return np.hypot(u, v) - 0.9


def _square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) - 0.75


def _triangle(u, v):  # equilateral, circumradius 1
    return np.maximum.reduce([v * np.cos(a) + u * np.sin(a) for a in (0.0, 2.0944, 4.1888)]) - 0.5


def _cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return np.minimum(np.maximum(au - 0.28, av - 0.95), np.maximum(au - 0.95, av - 0.28))


def _ring(u, v):
    return np.abs(np.hypot(u, v) - 0.72) - 0.24


def _bar(u, v):
    return np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.3)


def _star(u, v):  # five points
    return np.hypot(u, v) - (0.62 + 0.33 * np.cos(5 * np.arctan2(v, u)))


def _crescent(u, v):
    return np.maximum(np.hypot(u, v) - 0.95, 0.75 - np.hypot(u - 0.45, v))


def _half_disc(u, v):
    return np.maximum(np.hypot(u, v + 0.4) - 1.0, -(v + 0.4))


def _frame(u, v):
    return np.abs(np.maximum(np.abs(u), np.abs(v)) - 0.7) - 0.2


_SDFS = (_disc, _square, _triangle, _cross, _ring, _bar, _star, _crescent, _half_disc, _frame)


def hsv_to_rgb(h, s, v) -> np.ndarray:
    """HSV in [0, 1] (hue wraps) -> ``(n, 3) float32`` RGB in [0, 1]."""
    h, s, v = (np.asarray(a, dtype=np.float32)[:, None] for a in (h, s, v))
    k = (np.array([5, 3, 1], dtype=np.float32) + (h % 1.0) * 6) % 6
    return v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)


def _check_int(name, value, minimum) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
