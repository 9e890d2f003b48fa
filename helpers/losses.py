"""Contrastive losses: NT-Xent / InfoNCE, SupCon, spectral contrastive. Used from Chapter 1 on."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check_temperature(temperature) -> None:
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}; "
                         "SimCLR uses 0.5, typical values are 0.05-1")


def _check_pair(z1: torch.Tensor, z2: torch.Tensor, min_batch: int = 1) -> None:
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor) or not z.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got "
                            f"{getattr(z, 'dtype', type(z).__name__)}; call .float() first")
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must both be (batch, dim) with equal shapes, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    if len(z1) < min_batch:
        raise ValueError(f"need a batch of at least {min_batch}, got {len(z1)}")


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""NT-Xent (normalised temperature-scaled cross-entropy), SimCLR's loss (Chen et al. 2020).

    For the 2N views :math:`u_1..u_{2N}` (rows of z1 then z2, L2-normalised) and view i's
    partner j(i): :math:`\ell_i = -\log \frac{e^{u_i^\top u_{j(i)}/\tau}}{\sum_{k\ne i} e^{u_i^\top u_k/\tau}}`,
    returned as the mean over all 2N views. Equal projections give exactly log(2N - 1).

    Args:
        z1, z2: (batch, dim) projections of the two views; row i of each comes from image i.
        temperature: tau > 0.

    Returns:
        scalar tensor.

    Raises:
        TypeError: non-floating inputs. ValueError: shapes differ or are not 2-D, batch < 2,
        temperature <= 0 or not finite.
    """
    _check_temperature(temperature)
    _check_pair(z1, z2, min_batch=2)
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, dim)
    logits = z @ z.T / temperature  # (2N, 2N)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # a view is not its own negative
    partner = torch.arange(2 * n, device=z.device).roll(n)  # j(i) = i + N mod 2N
    return F.cross_entropy(logits, partner)


info_nce = nt_xent


def supcon(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""Supervised contrastive loss, the :math:`L^{sup}_{out}` form (Khosla et al. 2020, eq. 2).

    Every sample of every view is an anchor a; its positives P(a) are all other samples with
    the same label; :math:`\ell_a = -\frac{1}{|P(a)|}\sum_{p \in P(a)} \log
    \frac{e^{u_a^\top u_p/\tau}}{\sum_{k \ne a} e^{u_a^\top u_k/\tau}}`. Anchors without a
    positive (a class with one sample and one view) are left out of the mean. With two views
    and all labels distinct it equals :func:`nt_xent`.

    Args:
        features: (batch, n_views, dim), or (batch, dim) for one view.
        labels: (batch,) integer class labels.

    Raises:
        TypeError / ValueError: bad dtype, shapes, temperature; or no anchor has a positive.
    """
    _check_temperature(temperature)
    if not isinstance(features, torch.Tensor) or not features.is_floating_point():
        raise TypeError("features must be a floating-point tensor (batch, n_views, dim)")
    if features.ndim == 2:
        features = features[:, None]
    if features.ndim != 3:
        raise ValueError(f"features must be (batch, n_views, dim) or (batch, dim), got "
                         f"{tuple(features.shape)}")
    batch, views, _ = features.shape
    if not isinstance(labels, torch.Tensor) or labels.shape != (batch,):
        raise ValueError(f"labels must be a (batch,) = ({batch},) tensor, got "
                         f"{tuple(getattr(labels, 'shape', ()))}")
    u = F.normalize(features.transpose(0, 1).reshape(views * batch, -1), dim=1)  # view-major
    lab = labels.repeat(views)  # (views * batch,)
    logits = u @ u.T / temperature
    self_mask = torch.eye(len(u), dtype=torch.bool, device=u.device)
    log_prob = logits.masked_fill(self_mask, float("-inf")).log_softmax(dim=1)
    positive = (lab[:, None] == lab[None, :]) & ~self_mask
    n_pos = positive.sum(dim=1)
    has_pos = n_pos > 0
    if not has_pos.any():
        raise ValueError("no anchor has a positive (every label occurs once with one view); "
                         "use two views or batches with repeated labels")
    per_anchor = -log_prob.masked_fill(~positive, 0.0).sum(dim=1)[has_pos] / n_pos[has_pos]
    return per_anchor.mean()


def spectral_contrastive(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    r"""Spectral contrastive loss (HaoChen et al. 2021), the batch estimate of
    :math:`L(f) = -2\,E[f(x)^\top f(x^+)] + E[(f(x)^\top f(x^-))^2]`:
    :math:`-\frac{2}{N}\sum_i z1_i^\top z2_i + \frac{1}{N(N-1)}\sum_{i \ne j} (z1_i^\top z2_j)^2`.
    No normalisation: the scale of f matters (Part I's linear theory uses it).

    Args:
        z1, z2: (batch, dim), batch >= 2.

    Raises:
        TypeError / ValueError: non-floating input, unequal or non-2-D shapes, batch < 2.
    """
    _check_pair(z1, z2, min_batch=2)
    n = len(z1)
    cross = z1 @ z2.T  # (N, N)
    positive = cross.diagonal().mean()
    off = cross.pow(2).sum() - cross.diagonal().pow(2).sum()
    return -2 * positive + off / (n * (n - 1))
