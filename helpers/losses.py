"""Contrastive losses: NT-Xent / InfoNCE, SupCon, spectral contrastive. Used from Chapter 1 on.

Conventions: ``batch`` = N images, each seen in two (or ``n_views``) augmented views; every
loss returns a scalar tensor and is differentiable in its inputs.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F


def _check_temperature(temperature) -> None:
    # bool is an int subclass: True would silently mean tau = 1.
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a real number, got {type(temperature).__name__} "
                        f"{temperature!r}; pass e.g. temperature=0.5")
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}; pass a finite positive "
                         "number (SimCLR uses 0.5, typical values are 0.05-1)")


def _check_float(name: str, x) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {got}; "
                        "convert with torch.as_tensor(...).float()")


def _check_pair(z1: torch.Tensor, z2: torch.Tensor) -> None:
    _check_float("z1", z1)
    _check_float("z2", z2)
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must both be (batch, dim) with equal shapes, got z1 "
                         f"{tuple(z1.shape)} and z2 {tuple(z2.shape)}; row i of each must be a "
                         "view of image i")
    if len(z1) < 2:
        raise ValueError(f"need a batch of at least 2 (each anchor needs a negative), got "
                         f"{len(z1)}; use a larger batch")


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""NT-Xent (normalised temperature-scaled cross-entropy), SimCLR's loss (Chen et al. 2020, eq. 1).

    The 2N views :math:`u_1..u_{2N}` are the rows of z1 then z2, L2-normalised, and view i's
    partner is :math:`j(i) = i + N \bmod 2N`:

    .. math:: \ell_i = -\log \frac{e^{u_i^\top u_{j(i)}/\tau}}{\sum_{k \ne i} e^{u_i^\top u_k/\tau}},
              \qquad L = \frac{1}{2N} \sum_{i=1}^{2N} \ell_i .

    The positive is the other view; the 2N - 2 other views are negatives; self is excluded.
    If all projections are equal, L = log(2N - 1) exactly. ``info_nce`` is an alias.

    Args:
        z1, z2: (batch, dim) projections of the two views; row i of each comes from image i.
        temperature: tau, a finite number > 0.

    Returns:
        () scalar tensor, the mean over all 2N anchors.

    Raises:
        TypeError: z1 / z2 not floating-point tensors, or temperature not a real number.
        ValueError: z1 / z2 not 2-D or of different shapes, batch < 2, or temperature not
            finite and > 0.
    """
    _check_temperature(temperature)
    _check_pair(z1, z2)
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, dim)
    logits = z @ z.T / temperature  # (2N, 2N) cosine similarities / tau
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # a view is not its own negative
    partner = torch.arange(2 * n, device=z.device).roll(n)  # j(i) = i + N mod 2N
    return F.cross_entropy(logits, partner)


info_nce = nt_xent


def _batched_temperature(temperature, B: int) -> torch.Tensor:
    """``temperature`` as a (B,) tensor: one number for every model, or one per model."""
    kind = type(temperature).__name__
    if isinstance(temperature, (bool, str, bytes)) or temperature is None:
        raise TypeError(f"temperature must be a number or a (B,) tensor of numbers, got {kind} "
                        f"{temperature!r}; pass e.g. temperature=0.5")
    try:
        tau = torch.as_tensor(temperature)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"temperature must be a number or a (B,) tensor of numbers, got {kind} "
                        f"{temperature!r}") from err
    if tau.dtype == torch.bool or tau.is_complex():
        raise TypeError(f"temperature must hold real numbers, got {tau.dtype} (True would "
                        "silently mean tau = 1); pass e.g. temperature=0.5")
    if tau.ndim == 0:
        return tau.expand(B)
    if tau.shape != (B,):
        raise ValueError(f"temperature must be one number or a (B,) = ({B},) tensor, one per "
                         f"model, got shape {tuple(tau.shape)}")
    return tau


def batched_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature) -> torch.Tensor:
    """NT-Xent of B independent models at once (Chapters 4 and 5 train grids of small models as one): entry b is ``losses.nt_xent(z1[b], z2[b], tau_b)``.

    Args:
        z1, z2: (B, N, p) projections of the two views, N >= 2.
        temperature: a number > 0 or a (B,) tensor of them (one per model).

    Returns:
        (B,) per-model losses, each the mean over that model's 2N anchors.

    Raises:
        TypeError: z1 / z2 not floating-point tensors, or a temperature that is not real
            numbers (True, a string, a bool tensor). ValueError: shapes differ or are not 3-D,
            N < 2, temperatures not a number or of shape (B,), or not finite and > 0.
    """
    if not all(isinstance(z, torch.Tensor) and z.is_floating_point() for z in (z1, z2)):
        raise TypeError("z1 and z2 must be floating-point torch tensors (B, N, p)")
    if z1.ndim != 3 or z1.shape != z2.shape or z1.shape[1] < 2:
        raise ValueError(f"z1 and z2 must both be (B, N, p) with N >= 2, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    B, N, _ = z1.shape
    tau = _batched_temperature(temperature, B).to(dtype=z1.dtype, device=z1.device)
    if not (torch.isfinite(tau) & (tau > 0)).all():
        raise ValueError(f"every temperature must be finite and > 0, got {temperature!r}")
    z = F.normalize(torch.cat([z1, z2], dim=1), dim=-1)  # (B, 2N, p)
    logits = z @ z.transpose(1, 2) / tau[:, None, None]  # (B, 2N, 2N)
    self_mask = torch.eye(2 * N, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    partner = torch.arange(2 * N, device=z.device).roll(N).repeat(B)  # j(i) = i + N mod 2N
    per_anchor = F.cross_entropy(logits.reshape(B * 2 * N, 2 * N), partner, reduction="none")
    return per_anchor.reshape(B, 2 * N).mean(dim=1)


def supcon(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""Supervised contrastive loss, the :math:`L^{sup}_{out}` form (Khosla et al. 2020, eq. 2).

    Every view of every sample is an anchor a (A = batch * n_views of them, L2-normalised to
    u); its positives P(a) are all other anchors with the same label:

    .. math:: \ell_a = -\frac{1}{|P(a)|} \sum_{p \in P(a)}
              \log \frac{e^{u_a^\top u_p/\tau}}{\sum_{k \ne a} e^{u_a^\top u_k/\tau}},
              \qquad L = \operatorname{mean}_{a:\,|P(a)| > 0}\ \ell_a .

    Anchors without a positive (a class with one sample and one view) are left out of the mean.
    With two views and all labels distinct it equals :func:`nt_xent`.

    Args:
        features: (batch, n_views, dim), or (batch, dim) for one view.
        labels: (batch,) integer class labels.
        temperature: tau, a finite number > 0.

    Returns:
        () scalar tensor.

    Raises:
        TypeError: features not floating-point, labels not an integer tensor, or temperature
            not a real number.
        ValueError: features not 2-D / 3-D, labels not of shape (batch,), temperature not
            finite and > 0, or no anchor has a positive.
    """
    _check_temperature(temperature)
    _check_float("features", features)
    if features.ndim == 2:
        features = features[:, None]  # one view
    if features.ndim != 3:
        raise ValueError(f"features must be (batch, n_views, dim) or (batch, dim), got "
                         f"{tuple(features.shape)}; stack the views with torch.stack(views, dim=1)")
    batch, views, _ = features.shape
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex():
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"labels must be an integer torch.Tensor, got {got}; "
                        "use torch.as_tensor(labels, dtype=torch.long)")
    if labels.shape != (batch,):
        raise ValueError(f"labels must have shape (batch,) = ({batch},) to match features "
                         f"{tuple(features.shape)}, got {tuple(labels.shape)}; give one label per sample")
    u = F.normalize(features.transpose(0, 1).reshape(views * batch, -1), dim=1)  # (A, dim), view-major
    lab = labels.to(u.device).repeat(views)  # (A,), matches u's view-major order
    self_mask = torch.eye(len(u), dtype=torch.bool, device=u.device)
    # log softmax over all non-self anchors: the denominator of eq. 2
    log_prob = (u @ u.T / temperature).masked_fill(self_mask, float("-inf")).log_softmax(dim=1)
    positive = (lab[:, None] == lab[None, :]) & ~self_mask  # (A, A)
    n_pos = positive.sum(dim=1)
    has_pos = n_pos > 0  # always true with two or more views (an anchor's other view)
    if views == 1 and not has_pos.any():  # checked only where it can fail: vmap-friendly
        raise ValueError("no anchor has a positive: every label occurs once and there is one "
                         "view; use two or more views or batches with repeated labels")
    # masked_fill before summing: 0 * -inf on the diagonal would give nan
    per_anchor = -log_prob.masked_fill(~positive, 0.0).sum(dim=1) / n_pos.clamp_min(1)
    return (per_anchor * has_pos).sum() / has_pos.sum()  # mean over anchors with a positive


def spectral_contrastive(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    r"""Spectral contrastive loss (HaoChen et al. 2021, NeurIPS) and its batch estimate.

    Population form, for f the representation, x and x+ two views of one image, x- a view of
    an independent image:

    .. math:: L(f) = -2\, E[f(x)^\top f(x^+)] + E[(f(x)^\top f(x^-))^2] .

    Batch estimate, pairs (i, i) positive and (i, j), i != j, negative:

    .. math:: L = -\frac{2}{N}\sum_i z1_i^\top z2_i + \frac{1}{N(N-1)}\sum_{i \ne j} (z1_i^\top z2_j)^2 .

    No normalisation and no temperature: the scale of f matters (Part I's linear theory uses it).

    Args:
        z1, z2: (batch, dim) projections of the two views, batch >= 2.

    Returns:
        () scalar tensor.

    Raises:
        TypeError: z1 / z2 not floating-point tensors.
        ValueError: z1 / z2 not 2-D or of different shapes, or batch < 2.
    """
    _check_pair(z1, z2)
    n = len(z1)
    cross = z1 @ z2.T  # (N, N): diagonal = positive pairs, off-diagonal = negative pairs
    diag = cross.diagonal()
    off_sq = cross.pow(2).sum() - diag.pow(2).sum()
    return -2 * diag.mean() + off_sq / (n * (n - 1))
