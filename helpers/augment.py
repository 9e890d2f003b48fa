"""SimCLR's image augmentations, batched on any device, with torchvision's semantics.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations" (ICML 2020,
arXiv:2002.05709), Appendix A: random resized crop -> horizontal flip -> colour jitter (p=0.8)
-> grayscale (p=0.2). The chapters on *why* the projection head helps use this module to make
the two views; every op follows the definition in ``torchvision.transforms`` (v0.29), which
``tests/test_augment.py`` uses as the oracle.

Each op is split in two so tests can check the randomness and the arithmetic separately:
``sample_*_params(batch, ..., generator=, device=)`` draws per-image parameters as tensors and
``apply_*(x, params)`` applies them; ``random_*`` combines the two. Images are float in [0, 1] of
shape ``(batch, 3, H, W)``. Nothing here loops over images or calls ``.item()``, so on a GPU the
ops queue without host-device synchronisation. Randomness comes only from the ``generator``
argument; params are drawn on the generator's device and moved to ``device`` (pass a generator
on the images' device to avoid that copy; a CPU generator gives the same views on any device).

One deliberate difference from torchvision: ``ColorJitter`` draws one order of its four ops per
call (i.e. per image when used in a ``Dataset``, as SimCLR does); here the order is drawn per
image in the batch, which is the same distribution as the per-image Dataset pipeline.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = [
    "CropParams", "JitterParams", "ViewParams", "SimCLRAugment", "SIMCLR_SPEC",
    "sample_crop_params", "apply_crop", "random_resized_crop",
    "sample_flip_params", "apply_flip", "random_flip",
    "sample_jitter_params", "apply_jitter", "color_jitter",
    "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue",
    "sample_grayscale_params", "apply_grayscale", "random_grayscale", "rgb_to_grayscale",
]

_GRAY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights


class CropParams(NamedTuple):
    """Per-image integer boxes, each ``(batch,)`` int64; ``fallback`` marks the centre crops."""

    top: torch.Tensor
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    fallback: torch.Tensor


class JitterParams(NamedTuple):
    """``factors (batch, 4)``: brightness, contrast, saturation, hue; ``order (batch, 4)``: a
    permutation of op indices 0..3 (in that naming), applied left to right; ``apply (batch,)``."""

    factors: torch.Tensor
    order: torch.Tensor
    apply: torch.Tensor


# ------------------------------------------------------------------------------ checks


def _check_images(x: torch.Tensor, allow_uint8: bool = False) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError("images must be a torch.Tensor of shape (batch, 3, H, W), "
                        f"got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"images must have shape (batch, 3, H, W), got {tuple(x.shape)}; "
                         "add a batch dimension with x[None] or convert to RGB")
    if not (x.is_floating_point() or (allow_uint8 and x.dtype == torch.uint8)):
        allowed = "float or uint8" if allow_uint8 else "float in [0, 1]"
        raise TypeError(f"images must be {allowed}, got dtype {x.dtype}; use x.float() / 255")


def _check_prob(p: float, name: str) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")


def _check_range(r: tuple[float, float], name: str) -> None:
    if len(r) != 2 or not 0 < r[0] <= r[1]:
        raise ValueError(f"{name} must be a (low, high) pair with 0 < low <= high, got {r!r}")


def _check_batch(batch: int) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 0:
        raise ValueError(f"batch must be a non-negative int, got {batch!r}")


def _check_params(x: torch.Tensor, *tensors: torch.Tensor) -> None:
    for t in tensors:
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"params are for a batch of {t.shape[0]} but images have batch "
                             f"{x.shape[0]}; sample them with batch=x.shape[0]")


def _rand(shape: tuple[int, ...], generator: torch.Generator | None,
          device: torch.device | str | None) -> torch.Tensor:
    """U[0, 1) drawn on the generator's device (a generator can only fill its own device)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    gen_device = generator.device if generator is not None else device
    u = torch.rand(shape, generator=generator, device=gen_device)
    return u if device is None else u.to(device)


# ----------------------------------------------------------------- random resized crop


def sample_crop_params(batch: int, height: int, width: int,
                       scale: tuple[float, float] = (0.08, 1.0),
                       ratio: tuple[float, float] = (3 / 4, 4 / 3), *,
                       generator: torch.Generator | None = None,
                       device: torch.device | str | None = None,
                       attempts: int = 10) -> CropParams:
    """Boxes as ``torchvision.transforms.RandomResizedCrop.get_params``, for a whole batch.

    Area fraction ~ U(scale), log aspect ratio (w/h) ~ U(log ratio), ``w, h`` rounded; the first
    of ``attempts`` candidates that fits in the image is kept (torchvision tries them in turn,
    so this is the same distribution), the position is uniform over integer offsets; when none
    fits, the centre crop with the aspect ratio clamped into ``ratio``, exactly as torchvision.

    Returns:
        ``CropParams`` of ``(batch,)`` tensors on ``device``.

    Raises:
        ValueError: bad batch/size, or scale/ratio not an ordered positive pair.
    """
    _check_batch(batch)
    _check_range(scale, "scale")
    _check_range(ratio, "ratio")
    if min(height, width) < 1 or attempts < 1:
        raise ValueError(f"height, width and attempts must be >= 1, got {height}, {width}, {attempts}")
    u = _rand((batch, 2 * attempts + 2), generator, device)
    u_area, u_ratio, u_pos = u[:, :attempts], u[:, attempts:2 * attempts], u[:, 2 * attempts:]
    area = height * width * (scale[0] + (scale[1] - scale[0]) * u_area)
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(lo + (hi - lo) * u_ratio)
    w = torch.round(torch.sqrt(area * aspect)).long()  # round-half-even, as Python's round()
    h = torch.round(torch.sqrt(area / aspect)).long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.long().argmax(dim=1, keepdim=True)  # argmax returns the first maximum
    found = ok.any(dim=1)
    w, h = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0]
    # torchvision's fallback depends only on the image size and ratio: plain Python numbers
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height
    w, h = torch.where(found, w, fw), torch.where(found, h, fh)
    # uniform integer in [0, H - h]; clamp guards float rounding of u * n up to n
    top = torch.minimum((u_pos[:, 0] * (height - h + 1)).long(), height - h)
    left = torch.minimum((u_pos[:, 1] * (width - w + 1)).long(), width - w)
    top = torch.where(found, top, (height - fh) // 2)
    left = torch.where(found, left, (width - fw) // 2)
    return CropParams(top, left, h, w, ~found)


def apply_crop(x: torch.Tensor, params: CropParams, size: int) -> torch.Tensor:
    """Crop each image to its box and resize to ``(size, size)``, bilinear, no antialias.

    Equals ``torchvision.transforms.functional.resized_crop(..., antialias=False)`` per image:
    the sample positions are those of ``F.interpolate(align_corners=False)`` on the crop, clamped
    to the crop's edge pixels (not the neighbours outside the box), then read with ``grid_sample``.

    Args:
        x: ``(batch, 3, H, W)`` float. params: from ``sample_crop_params``. size: output side.

    Returns:
        ``(batch, 3, size, size)``.

    Raises:
        TypeError/ValueError: bad images, params for another batch size, or size < 1.
    """
    _check_images(x)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    _check_params(x, params.top)
    H, W = x.shape[-2:]
    o = (torch.arange(size, device=x.device, dtype=x.dtype) + 0.5) / size

    def axis(start: torch.Tensor, length: torch.Tensor, full: int) -> torch.Tensor:
        start, length = start.to(x.dtype)[:, None], length.to(x.dtype)[:, None]
        src = torch.clamp(start + o * length - 0.5, min=start)  # interpolate's src index
        src = torch.minimum(src, start + length - 1)
        return (2 * src + 1) / full - 1  # pixel index -> grid_sample's [-1, 1], align_corners=False

    gx, gy = axis(params.left, params.width, W), axis(params.top, params.height, H)
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(x: torch.Tensor, size: int, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), *,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``(batch, 3, H, W) -> (batch, 3, size, size)``: one random resized crop per image."""
    _check_images(x)
    params = sample_crop_params(x.shape[0], x.shape[2], x.shape[3], scale, ratio,
                                generator=generator, device=x.device)
    return apply_crop(x, params, size)


# ------------------------------------------------------------------------------- flip


def _sample_coins(batch: int, p: float, generator, device) -> torch.Tensor:
    """``(batch,)`` bool, each True with probability ``p`` (flip and grayscale decisions)."""
    _check_batch(batch)
    _check_prob(p, "p")
    return _rand((batch,), generator, device) < p


def sample_flip_params(batch: int, p: float = 0.5, *, generator: torch.Generator | None = None,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """``(batch,)`` bool: which images to flip, each with probability ``p``.

    Raises:
        ValueError: p outside [0, 1] or bad batch.
    """
    return _sample_coins(batch, p, generator, device)


def apply_flip(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror the images where ``flip`` (``(batch,)`` bool) is set, left-right."""
    _check_images(x)
    _check_params(x, flip)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_flip(x: torch.Tensor, p: float = 0.5, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``RandomHorizontalFlip(p)`` per image."""
    _check_images(x)
    return apply_flip(x, sample_flip_params(x.shape[0], p, generator=generator, device=x.device))


# ------------------------------------------------------------------------ colour jitter


def rgb_to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """``(batch, 3, H, W) -> (batch, 1, H, W)`` luma, torchvision's weights (0.2989, 0.587, 0.114)."""
    r, g, b = x.unbind(dim=-3)
    return (_GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b).unsqueeze(-3)


def _blend(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    f = f.to(a.dtype)[:, None, None, None]
    return (f * a + (1.0 - f) * b).clamp(0, 1)  # torchvision's _blend, one ratio per image


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image ``TF.adjust_brightness``: blend with black; ``factor`` is ``(batch,)``."""
    return _blend(x, torch.zeros_like(x), factor)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image ``TF.adjust_contrast``: blend with the image's mean grey level."""
    return _blend(x, rgb_to_grayscale(x).mean(dim=(-3, -2, -1), keepdim=True), factor)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image ``TF.adjust_saturation``: blend with the grayscale image."""
    return _blend(x, rgb_to_grayscale(x), factor)


def _rgb2hsv(img: torch.Tensor) -> torch.Tensor:
    # torchvision.transforms._functional_tensor._rgb2hsv, unchanged (it is already batched)
    r, g, b = img.unbind(dim=-3)
    maxc, minc = img.max(dim=-3).values, img.min(dim=-3).values
    eqc = maxc == minc  # grey pixels: no hue; avoid 0/0 rather than patch NaNs afterwards
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_divisor = torch.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def _hsv2rgb(img: torch.Tensor) -> torch.Tensor:
    # torchvision.transforms._functional_tensor._hsv2rgb, unchanged
    h, s, v = img.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(dtype=torch.int32) % 6
    p = torch.clamp(v * (1.0 - s), 0.0, 1.0)
    q = torch.clamp(v * (1.0 - s * f), 0.0, 1.0)
    t = torch.clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    mask = i.unsqueeze(dim=-3) == torch.arange(6, device=i.device).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=-3)
    a2 = torch.stack((t, v, v, q, p, p), dim=-3)
    a3 = torch.stack((p, p, t, v, v, q), dim=-3)
    a4 = torch.stack((a1, a2, a3), dim=-4)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)


def adjust_hue(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Per-image ``TF.adjust_hue``: RGB -> HSV, shift hue by ``factor`` (turns), -> RGB."""
    h, s, v = _rgb2hsv(x).unbind(dim=-3)
    h = (h + factor.to(x.dtype)[:, None, None]) % 1.0
    return _hsv2rgb(torch.stack((h, s, v), dim=-3)).clamp(0, 1)


_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def sample_jitter_params(batch: int, brightness: float = 0.4, contrast: float = 0.4,
                         saturation: float = 0.4, hue: float = 0.1, p: float = 0.8, *,
                         generator: torch.Generator | None = None,
                         device: torch.device | str | None = None) -> JitterParams:
    """``RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p)`` parameters.

    Factors ~ U(max(0, 1 - v), 1 + v) for brightness, contrast, saturation and U(-hue, hue) for
    hue, as ``ColorJitter.get_params``; an op with strength 0 gets the identity factor (1, or 0
    for hue), which torchvision skips. The op order is a uniform random permutation per image.

    Raises:
        ValueError: a strength < 0, hue > 0.5, p outside [0, 1] or bad batch.
    """
    _check_batch(batch)
    _check_prob(p, "p")
    for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation),
                    ("hue", hue)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")
    if hue > 0.5:
        raise ValueError(f"hue must be in [0, 0.5] (a hue shift in turns), got {hue!r}")
    u = _rand((batch, 9), generator, device)
    ranges = [(max(0.0, 1 - v), 1 + v) for v in (brightness, contrast, saturation)] + [(-hue, hue)]
    # Python-number ranges: no host-to-device copy of a bounds tensor
    factors = torch.stack([lo + (hi - lo) * u[:, k] for k, (lo, hi) in enumerate(ranges)], dim=1)
    order = u[:, 4:8].argsort(dim=1)  # ranks of i.i.d. uniforms: a uniform permutation
    return JitterParams(factors, order, u[:, 8] < p)


def apply_jitter(x: torch.Tensor, params: JitterParams) -> torch.Tensor:
    """Apply each image's four ops in its own order, where ``params.apply`` is set.

    Two exact implementations of the same per-image rule, chosen by device:

    * CUDA: every op evaluated for the whole batch at each of the four steps, the image's own
      op selected with ``torch.where`` (16 batched ops, no host synchronisation);
    * CPU: each op evaluated only on the images that take it at that step (4 ops per image,
      not 16), and the hue op skipped where its shift is 0 (torchvision skips it too). On 2
      CPU cores the 16-op form was most of a SimCLR epoch's time; ``make bench`` times both.

    Raises:
        TypeError/ValueError: bad images or params for another batch size.
    """
    _check_images(x)
    _check_params(x, params.factors, params.order, params.apply)
    if x.device.type == "cpu":
        return _apply_jitter_indexed(x, params)
    return _apply_jitter_batched(x, params)


def _apply_jitter_batched(x: torch.Tensor, params: JitterParams) -> torch.Tensor:
    out = x
    for step in range(4):
        op = params.order[:, step, None, None, None]
        new = out
        for k, fn in enumerate(_OPS):
            y = fn(out, params.factors[:, k])
            if k == 3:  # hue 0 is skipped by torchvision (its HSV round trip is not exact)
                y = torch.where(params.factors[:, 3, None, None, None] == 0, out, y)
            new = torch.where(op == k, y, new)
        out = new
    return torch.where(params.apply[:, None, None, None], out, x)


def _apply_jitter_indexed(x: torch.Tensor, params: JitterParams) -> torch.Tensor:
    out = x.clone()
    for step in range(4):
        for k, fn in enumerate(_OPS):
            take = params.apply & (params.order[:, step] == k)
            if k == 3:  # hue 0 is skipped by torchvision (its HSV round trip is not exact)
                take = take & (params.factors[:, 3] != 0)
            idx = take.nonzero().squeeze(1)
            if len(idx):
                out[idx] = fn(out[idx], params.factors[idx, k])
    return out


def color_jitter(x: torch.Tensor, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4, hue: float = 0.1, p: float = 0.8, *,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``RandomApply([ColorJitter(...)], p)`` per image; ``(batch, 3, H, W)`` in and out."""
    _check_images(x)
    params = sample_jitter_params(x.shape[0], brightness, contrast, saturation, hue, p,
                                  generator=generator, device=x.device)
    return apply_jitter(x, params)


# -------------------------------------------------------------------------- grayscale


def sample_grayscale_params(batch: int, p: float = 0.2, *,
                            generator: torch.Generator | None = None,
                            device: torch.device | str | None = None) -> torch.Tensor:
    """``(batch,)`` bool: which images to turn grey, each with probability ``p``.

    Raises:
        ValueError: p outside [0, 1] or bad batch.
    """
    return _sample_coins(batch, p, generator, device)


def apply_grayscale(x: torch.Tensor, gray: torch.Tensor) -> torch.Tensor:
    """Replace the images where ``gray`` is set by their luma replicated to 3 channels."""
    _check_images(x)
    _check_params(x, gray)
    return torch.where(gray[:, None, None, None], rgb_to_grayscale(x).expand_as(x), x)


def random_grayscale(x: torch.Tensor, p: float = 0.2, *,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``RandomGrayscale(p)`` per image."""
    _check_images(x)
    gray = sample_grayscale_params(x.shape[0], p, generator=generator, device=x.device)
    return apply_grayscale(x, gray)


# ---------------------------------------------------------------------------- pipeline


class ViewParams(NamedTuple):
    """All random choices of one SimCLR view: ``crop``, ``flip (batch,)``, ``jitter``, ``gray (batch,)``."""

    crop: CropParams
    flip: torch.Tensor
    jitter: JitterParams
    gray: torch.Tensor


#: SimCLR's CIFAR augmentation settings (Chen et al. 2020, App. A), the defaults of
#: :class:`SimCLRAugment`; ``tests/view_sampler_oracle.py`` checks the sampler against them.
SIMCLR_SPEC = {"scale": (0.08, 1.0), "ratio": (3 / 4, 4 / 3), "p_flip": 0.5,
               "jitter": (0.4, 0.4, 0.4, 0.1), "p_jitter": 0.8, "p_gray": 0.2}


class SimCLRAugment(torch.nn.Module):
    """SimCLR's augmentation (Chen et al. 2020, App. A): crop -> flip -> jitter -> grayscale.

    Args:
        size: output side. scale, ratio: crop area fraction and aspect-ratio ranges.
        jitter: (brightness, contrast, saturation, hue) strengths. p_jitter, p_gray, p_flip:
            probabilities. (SimCLR's CIFAR setting drops the blur, as here.)

    Raises:
        ValueError: any setting out of range (checked here, not at the first batch).
    """

    def __init__(self, size: int = 32, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
                 p_jitter: float = 0.8, p_gray: float = 0.2, p_flip: float = 0.5) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if len(jitter) != 4:
            raise ValueError(f"jitter must be (brightness, contrast, saturation, hue), got {jitter!r}")
        _check_range(scale, "scale")
        _check_range(ratio, "ratio")
        for name, p in (("p_jitter", p_jitter), ("p_gray", p_gray), ("p_flip", p_flip)):
            _check_prob(p, name)
        sample_jitter_params(0, *jitter, p=p_jitter)  # validates the strengths
        self.size, self.scale, self.ratio = size, tuple(scale), tuple(ratio)
        self.jitter, self.p_jitter, self.p_gray, self.p_flip = tuple(jitter), p_jitter, p_gray, p_flip

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch, 3, H, W)`` float in [0, 1] or uint8 -> one view ``(batch, 3, size, size)``.

        Raises:
            TypeError/ValueError: not a ``(batch, 3, H, W)`` float/uint8 tensor.
        """
        _check_images(x, allow_uint8=True)
        params = self.sample_params(x.shape[0], x.shape[2], x.shape[3], generator=generator,
                                    device=x.device)
        return self.apply_params(x, params)

    def sample_params(self, batch: int, height: int, width: int, *,
                      generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> ViewParams:
        """Every random choice of one view of ``batch`` images of ``height x width``.

        Drawn in the order crop, flip, jitter, grayscale (the order ``forward`` has always
        used, so a seed gives the same views as before); ``tests/test_pipeline.py`` checks
        these against torchvision's parameter distributions.
        """
        return ViewParams(
            sample_crop_params(batch, height, width, self.scale, self.ratio,
                               generator=generator, device=device),
            sample_flip_params(batch, self.p_flip, generator=generator, device=device),
            sample_jitter_params(batch, *self.jitter, p=self.p_jitter, generator=generator,
                                 device=device),
            sample_grayscale_params(batch, self.p_gray, generator=generator, device=device))

    def apply_params(self, x: torch.Tensor, params: ViewParams) -> torch.Tensor:
        """``(batch, 3, H, W)`` float in [0, 1] or uint8 -> ``(batch, 3, size, size)``."""
        _check_images(x, allow_uint8=True)
        if x.dtype == torch.uint8:
            x = x.float() / 255
        x = apply_crop(x, params.crop, self.size)
        x = apply_flip(x, params.flip)
        x = apply_jitter(x, params.jitter)
        return apply_grayscale(x, params.gray)

    def two_views(self, x: torch.Tensor, generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent views of the same batch (the positive pairs), each as ``forward``."""
        return self.forward(x, generator), self.forward(x, generator)

    def extra_repr(self) -> str:
        return (f"size={self.size}, scale={self.scale}, ratio={self.ratio}, jitter={self.jitter}, "
                f"p_jitter={self.p_jitter}, p_gray={self.p_gray}, p_flip={self.p_flip}")


# ---------------------------------------------------------------------------- recipes


def simclr_augment(size: int, crop_scale_min: float, jitter: float,
                   hue: float | None = None) -> SimCLRAugment:
    """SimCLR's augmentation at colour-jitter strength s (Chen et al. 2020, App. A): crops of
    area in [crop_scale_min, 1], jitter (0.8s, 0.8s, 0.8s, 0.2s). Chapters 1, 4, 5, 6, 8.

    ``hue`` overrides the hue strength (0: no hue shift), for a stand-in whose class *is* a hue:
    there, SimCLR's hue jitter would change the label between two views."""
    return SimCLRAugment(size=size, scale=(crop_scale_min, 1.0),
                         jitter=(0.8 * jitter,) * 3 + (0.2 * jitter if hue is None else hue,))


class ShiftFlip(torch.nn.Module):
    """Light supervised augmentation (Chapter 7): each image translated by up to ``max_shift``
    of its size (border padding) and flipped left-right with probability 1/2, one affine warp
    for the batch. Shapes: (B, 3, H, W) uint8 or float in [0, 1] -> (B, 3, H, W) float.

    Raises:
        ValueError: ``max_shift`` outside [0, 0.5].
    """

    def __init__(self, max_shift: float = 0.06):
        super().__init__()
        if not 0.0 <= float(max_shift) <= 0.5:
            raise ValueError(f"max_shift is a fraction of the image side in [0, 0.5], got {max_shift!r}")
        self.max_shift = float(max_shift)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_images(x, allow_uint8=True)
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        b = len(x)
        t = (torch.rand(b, 2, generator=generator, device=x.device) * 2 - 1) * 2 * self.max_shift
        flip = torch.where(torch.rand(b, generator=generator, device=x.device) < 0.5, -1.0, 1.0)
        theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0], theta[:, 1, 1] = flip, 1.0
        theta[:, :, 2] = t  # affine_grid's units: the half-side, hence the factor 2 above
        grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
        return torch.nn.functional.grid_sample(x, grid, padding_mode="border", align_corners=False)

    def two_views(self, x: torch.Tensor, generator: torch.Generator | None = None):
        return self.forward(x, generator), self.forward(x, generator)

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}"
