"""Part II, "Expansion and shrinkage": closed forms for what a linear projector does to a signal.

Gui, Ma & Zhong (2023) describe a trained linear projector by how much it stretches the signal
direction u of a two-class Gaussian mixture compared with an average direction. This module
holds the book's own derivations (Chapter "Expansion and shrinkage"), each checked against a
simulation in ``tests/test_expansion.py``:

* :func:`expansion_measure` E(W) = k ||W u||^2 / ||W||_F^2 (> 1 expands, < 1 shrinks u);
* :func:`w_alpha` the model projector W_alpha = P_perp + alpha u u^T, and :func:`fit_alpha`,
  the alpha of the W_alpha that best matches a given W (through W^T W);
* :func:`expansion_from_alpha` / :func:`alpha_from_expansion` E(W_alpha) = k a^2 / (a^2 + k - 1);
* :func:`ncm_accuracy_limit` the high-dimensional limit of the nearest-class-mean classifier's
  accuracy after W_alpha, and :func:`ncm_accuracy` its finite-size version for any linear map;
* :class:`ReducedProblem` the one-number reduction of the NT-Xent loss of a linear encoder +
  projector (Monte Carlo expectations; the slope at rho = 1 in closed form), and
  :func:`descend`, the minimum gradient descent reaches on it from rho = 1;
* :func:`positive_pair_tilt` and :func:`large_tau_slope` the slope's high-temperature limit,
  derived to leading order in 1/d: negative (expansion) for every sigma > 0.

The constants :data:`NCM_LIMIT_CHECK` and :data:`LARGE_TAU_CHECK` are the tolerances the tests
use; Chapter 4 prints them from here, so the page states what the tests check.

Arrays: ``torch.Tensor`` or ``numpy.ndarray``; the answer comes back in the same kind (float64).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["expansion_measure", "w_alpha", "fit_alpha", "expansion_from_alpha",
           "alpha_from_expansion", "ncm_accuracy_limit", "ncm_accuracy", "projector_alpha_pair",
           "ReducedProblem", "descend", "positive_pair_tilt", "large_tau_slope",
           "NCM_LIMIT_CHECK", "LARGE_TAU_CHECK", "LARGE_TAU"]

#: How ``tests/test_expansion.py`` checks :func:`ncm_accuracy_limit` against Monte Carlo: at
#: ``dim`` dimensions, within ``abs_tol`` in accuracy (measured gaps <= 0.002; the margin covers
#: other seeds and the O(1/sqrt(n)) finite-size bias, and still excludes an alpha^2 variant).
NCM_LIMIT_CHECK = {"dim": 300, "abs_tol": 0.015}

#: How ``tests/test_expansion.py`` checks the leading-order :func:`positive_pair_tilt` against a
#: Monte Carlo of the same expectation: (dim, relative tolerance) pairs. The neglected terms are
#: O(1/d): measured 3-5 % at d = 50, about 1 % at d = 200.
LARGE_TAU_CHECK = ((50, 0.08), (200, 0.025))

#: The temperature at which the chapter and the tests evaluate the exact slope as "large tau"
#: (|S_ij| <= 1, so the softmax is uniform to about 1 / LARGE_TAU).
LARGE_TAU = 1e6


# --- input checks --------------------------------------------------------------------------

def _as_tensor(name: str, x) -> tuple[torch.Tensor, bool]:
    """(float64 tensor, whether the input was numpy). Lists are refused: shapes must be explicit."""
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        return torch.from_numpy(np.asarray(x, dtype=np.float64)), True
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        return x.detach().to(torch.float64), False
    raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}; "
                    "convert with torch.as_tensor(...) or np.asarray(...)")


def _out(x: torch.Tensor, numpy: bool):
    return x.numpy() if numpy else x


def _check_finite(name: str, x: torch.Tensor) -> None:
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")


def _matrix_and_direction(W, u) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Checked (W (..., p, k), unit u (..., k), numpy?) with u broadcast to W's batch."""
    W_t, numpy = _as_tensor("W", W)
    u_t, _ = _as_tensor("u", u)
    if W_t.ndim < 2:
        raise ValueError(f"W must be a matrix (p, k) or a batch (..., p, k), got shape "
                         f"{tuple(W_t.shape)}")
    if u_t.ndim < 1 or u_t.shape[-1] != W_t.shape[-1]:
        raise ValueError(f"u must be a vector of length k = W.shape[-1] = {W_t.shape[-1]} (the "
                         f"input side of W), got shape {tuple(u_t.shape)}")
    _check_finite("W", W_t)
    _check_finite("u", u_t)
    norm = u_t.norm(dim=-1, keepdim=True)
    if (norm == 0).any():
        raise ValueError("u is the zero vector; the signal direction must be non-zero "
                         "(u = mu / ||mu|| needs mu != 0)")
    return W_t, u_t / norm, numpy


def _real(name: str, x, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    x = float(x)
    if not math.isfinite(x) or (positive and x <= 0) or (nonneg and x < 0):
        need = "> 0" if positive else ">= 0" if nonneg else "finite"
        raise ValueError(f"{name} must be finite and {need}, got {x!r}")
    return x


def _dim(name: str, k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(k).__name__} {k!r}")
    if k < 2:
        raise ValueError(f"{name} must be >= 2 (u needs an orthogonal complement), got {k}")
    return int(k)


# --- the expansion measure and the W_alpha family --------------------------------------------

def expansion_measure(W, u):
    r"""How much W stretches direction u compared with an average direction (the book's
    formalisation of the "expansion" of Gui et al. 2023, whose own definition was not at hand).

    .. math:: E(W) = k\,\frac{\lVert W u\rVert^2}{\lVert W\rVert_F^2}, \qquad \lVert u\rVert = 1 .

    :math:`\lVert W\rVert_F^2 / k` is the mean of :math:`\lVert W v\rVert^2` over unit v drawn
    uniformly (or over any orthonormal basis), so E > 1 means W expands u relative to the
    average direction, E < 1 that it shrinks it; E = 1 for any multiple of an orthogonal
    matrix, 0 <= E <= k always, and E is unchanged by rescaling W or rotating its output.

    Args:
        W: (p, k) or a batch (..., p, k) of linear maps acting on k-dimensional inputs.
        u: (k,) or (..., k) direction in the input space; normalised here.

    Returns:
        E: () or (...,) in the array kind of W (float64).

    Raises:
        TypeError: W or u not a tensor / ndarray of real numbers.
        ValueError: W not at least 2-D, u of the wrong length, u zero, a W that is all
            zeros, or non-finite entries.
    """
    W_t, u_t, numpy = _matrix_and_direction(W, u)
    frob = W_t.pow(2).sum(dim=(-2, -1))  # (...,)
    if (frob == 0).any():
        raise ValueError("W is the zero matrix; the expansion measure needs ||W||_F > 0")
    Wu = (W_t @ u_t.unsqueeze(-1)).squeeze(-1)  # (..., p)
    return _out(W_t.shape[-1] * Wu.pow(2).sum(-1) / frob, numpy)


def w_alpha(u, alpha):
    r"""The model projector :math:`W_\alpha = P_\perp + \alpha\,u u^\top` (a symmetric (k, k) matrix).

    It multiplies the component along u by alpha and leaves the orthogonal complement alone:
    alpha > 1 expands the signal, alpha < 1 shrinks it, alpha = 1 is the identity.

    Args:
        u: (k,) signal direction (normalised here), k >= 2.
        alpha: real number >= 0.

    Returns:
        (k, k) matrix in the array kind of u (float64).

    Raises:
        TypeError: u not a tensor / ndarray, alpha not a real number.
        ValueError: u not a non-zero finite vector of length >= 2, alpha negative or not finite.
    """
    u_t, numpy = _as_tensor("u", u)
    if u_t.ndim != 1 or len(u_t) < 2:
        raise ValueError(f"u must be a vector (k,) with k >= 2, got shape {tuple(u_t.shape)}")
    _check_finite("u", u_t)
    if u_t.norm() == 0:
        raise ValueError("u is the zero vector; the signal direction must be non-zero")
    alpha = _real("alpha", alpha, nonneg=True)
    u_t = u_t / u_t.norm()
    return _out(torch.eye(len(u_t), dtype=torch.float64) + (alpha - 1) * torch.outer(u_t, u_t), numpy)


def fit_alpha(W, u):
    r"""The alpha of the W_alpha that best describes W's gains: gain along u / RMS gain across u.

    Fitting :math:`W^\top W \approx c^2 (P_\perp + \alpha^2 u u^\top)` in Frobenius norm over
    c and alpha (the off-diagonal block :math:`u^\top W^\top W P_\perp` cannot be fitted and
    drops out) gives

    .. math:: \alpha^2 = \frac{\lVert W u\rVert^2}{(\lVert W\rVert_F^2 - \lVert W u\rVert^2)/(k-1)} ,

    the squared gain along u over the mean squared gain of the k - 1 directions orthogonal to u.
    For W = Q W_alpha (any rotation Q) it returns alpha exactly, and always
    :math:`E(W) = k\alpha^2/(\alpha^2 + k - 1)`.

    Args:
        W: (p, k) or (..., p, k). u: (k,) or (..., k) direction (normalised here).

    Returns:
        alpha >= 0: () or (...,) in the array kind of W (inf if W vanishes on u's complement).

    Raises:
        TypeError / ValueError: as :func:`expansion_measure`; also k < 2.
    """
    W_t, u_t, numpy = _matrix_and_direction(W, u)
    k = _dim("k = W.shape[-1]", W_t.shape[-1])
    frob = W_t.pow(2).sum(dim=(-2, -1))
    if (frob == 0).any():
        raise ValueError("W is the zero matrix; alpha is undefined")
    along = (W_t @ u_t.unsqueeze(-1)).squeeze(-1).pow(2).sum(-1)  # ||W u||^2
    across = (frob - along).clamp_min(0) / (k - 1)  # mean ||W v||^2 over v orthogonal to u
    return _out(torch.sqrt(along / across), numpy)


def expansion_from_alpha(alpha, k: int):
    r""":math:`E(W_\alpha) = k\alpha^2 / (\alpha^2 + k - 1)` (array or number in, same out).

    Raises:
        TypeError: k not an int. ValueError: k < 2 or a negative alpha.
    """
    k = _dim("k", k)
    a = np.asarray(alpha, dtype=np.float64) if not isinstance(alpha, torch.Tensor) else alpha.double()
    if (a < 0).any():
        raise ValueError("alpha must be >= 0")
    out = k * a**2 / (a**2 + k - 1)
    return float(out) if np.ndim(out) == 0 and not isinstance(out, torch.Tensor) else out


def alpha_from_expansion(E, k: int):
    r"""Inverse of :func:`expansion_from_alpha`: :math:`\alpha = \sqrt{E(k-1)/(k-E)}` for 0 <= E < k.

    Raises:
        TypeError: k not an int. ValueError: k < 2 or E outside [0, k).
    """
    k = _dim("k", k)
    e = np.asarray(E, dtype=np.float64) if not isinstance(E, torch.Tensor) else E.double()
    if (e < 0).any() or (e >= k).any():
        raise ValueError(f"E must lie in [0, k) = [0, {k}), got {E!r}")
    out = (e * (k - 1) / (k - e)) ** 0.5
    return float(out) if np.ndim(out) == 0 and not isinstance(out, torch.Tensor) else out


def projector_alpha_pair(rho: float) -> tuple[float, float]:
    """(alpha of the encoder, alpha of encoder + projector) for an end-to-end gain ratio rho.

    With balanced layers (W^T W = A A^T, the gradient-descent bias of Part I) each of the two
    layers carries the square root of the end-to-end ratio: the encoder output h has
    alpha = sqrt(rho), the projector output z has alpha = rho.

    Raises:
        TypeError / ValueError: rho not a real number > 0.
    """
    rho = _real("rho", rho, positive=True)
    return math.sqrt(rho), rho


# --- downstream accuracy of the nearest-class-mean classifier --------------------------------

def _phi(x):
    from scipy.special import ndtr  # standard normal CDF

    return ndtr(x)


def ncm_accuracy_limit(alpha, r: float, gamma: float, pi: float = 0.5):
    r"""Limit of the nearest-class-mean classifier's test accuracy on :math:`W_\alpha x`.

    Data :math:`x = y\mu + z`, :math:`z \sim N(0, I_d)`, :math:`\lVert\mu\rVert = r`, balanced
    test classes; the classifier is fitted on :math:`n_+ = \pi n` and :math:`n_- = (1-\pi) n`
    labelled samples, as :math:`\mathrm{sign}\big((\hat c_+ - \hat c_-)^\top(x' - (\hat c_+ +
    \hat c_-)/2)\big)` on the projected features :math:`x' = W_\alpha x`. As
    :math:`n, d \to \infty` with :math:`d/n \to \gamma` (the book's derivation),

    .. math:: \mathrm{Acc} \to \tfrac12\Big[\Phi\Big(\frac{\alpha^2 r^2 - b}{s}\Big)
              + \Phi\Big(\frac{\alpha^2 r^2 + b}{s}\Big)\Big],\quad
              s^2 = \alpha^4 r^2 + \frac{\gamma}{4\pi(1-\pi)},\quad
              b = \frac{\gamma}{4}\Big(\frac1\pi - \frac1{1-\pi}\Big).

    With balanced labels (pi = 1/2, b = 0) this is
    :math:`\Phi\big(r^2 / \sqrt{r^2 + \gamma/\alpha^4}\big)`: increasing in alpha, from 1/2
    (alpha -> 0) to the Bayes accuracy :math:`\Phi(r)` (alpha -> inf).

    Args:
        alpha: number or array of alphas >= 0. r: ||mu|| > 0. gamma: d / n >= 0.
        pi: fraction of positive labels in the training set, in (0, 1).

    Returns:
        accuracy in [0, 1], a float or an ndarray shaped like alpha.

    Raises:
        TypeError: r, gamma or pi not real numbers. ValueError: r <= 0, gamma < 0, pi outside
        (0, 1), or a negative alpha.
    """
    r = _real("r", r, positive=True)
    gamma = _real("gamma", gamma, nonneg=True)
    pi = _real("pi", pi)
    if not 0 < pi < 1:
        raise ValueError(f"pi must lie in (0, 1), got {pi}")
    a = np.asarray(alpha.detach().cpu() if isinstance(alpha, torch.Tensor) else alpha,
                   dtype=np.float64)
    if (a < 0).any():
        raise ValueError("alpha must be >= 0")
    m = a**2 * r**2
    s = np.sqrt(a**4 * r**2 + gamma / (4 * pi * (1 - pi)))
    b = gamma / 4 * (1 / pi - 1 / (1 - pi))
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = 0.5 * (_phi((m - b) / s) + _phi((m + b) / s))
    acc = np.where(s == 0, 0.5, acc)  # alpha = 0 and gamma = 0: the score is identically 0
    return float(acc) if acc.ndim == 0 else acc


def ncm_accuracy(T, mu, n_pos: int, n_neg: int):
    r"""Finite-size (deterministic-equivalent) accuracy of nearest class mean on features T x.

    Same classifier and data as :func:`ncm_accuracy_limit`, for any linear map T (p, d), with
    :math:`G = T^\top T`. Conditional on the training draw, the test score is Gaussian; its
    random training terms are replaced by their means (their fluctuations vanish as n grows):

    .. math:: \mathrm{Acc} \approx \tfrac12\Big[\Phi\Big(\frac{m-b}{s}\Big)+\Phi\Big(\frac{m+b}{s}\Big)\Big],
        \ m = \mu^\top G\mu,\ s^2 = \mu^\top G^2\mu + \frac{\operatorname{tr}G^2}{4}\Big(\frac1{n_+}
        + \frac1{n_-}\Big),\ b = \frac{\operatorname{tr}G}{4}\Big(\frac1{n_+} - \frac1{n_-}\Big).

    For :math:`T = W_\alpha` and :math:`n_\pm = n/2` it tends to :func:`ncm_accuracy_limit`.

    Args:
        T: (p, d) or a batch (..., p, d) of feature maps. mu: (d,) class-mean vector (not
        normalised: its norm is the signal strength r). n_pos, n_neg: labelled samples per class.

    Returns:
        accuracy: a float or an ndarray of shape (...,).

    Raises:
        TypeError / ValueError: bad arrays (as :func:`expansion_measure`), mu zero, or a class
        count not an int >= 1.
    """
    T_t, _, _ = _matrix_and_direction(T, mu)
    mu_t, _ = _as_tensor("mu", mu)
    for name, n in (("n_pos", n_pos), ("n_neg", n_neg)):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    G = T_t.transpose(-2, -1) @ T_t  # (..., d, d)
    Gmu = (G @ mu_t.unsqueeze(-1)).squeeze(-1)
    m = (mu_t * Gmu).sum(-1)
    s2 = Gmu.pow(2).sum(-1) + G.pow(2).sum(dim=(-2, -1)) * (1 / n_pos + 1 / n_neg) / 4
    b = G.diagonal(dim1=-2, dim2=-1).sum(-1) * (1 / n_pos - 1 / n_neg) / 4
    s = s2.sqrt().numpy()
    acc = 0.5 * (_phi((m.numpy() - b.numpy()) / s) + _phi((m.numpy() + b.numpy()) / s))
    return float(acc) if acc.ndim == 0 else acc


# --- the one-number reduction of the loss -------------------------------------------------------

def _temperatures(taus) -> np.ndarray:
    """Checked 1-D array of temperatures, each finite and > 0."""
    t = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    if t.ndim != 1 or len(t) == 0 or not (np.isfinite(t) & (t > 0)).all():
        raise ValueError(f"temperatures must be finite numbers > 0, got {taus!r}")
    return t


class ReducedProblem:
    r"""The book's one-number theory: NT-Xent restricted to maps :math:`M_\rho = P_\perp + \rho\,u u^\top`.

    By rotation symmetry about u the population loss of an end-to-end linear map M depends
    only on rho, the gain along u over the gain across it (not on M's scale: the loss
    normalises, nor on a rotation of its output). Data: the two-class mixture with
    ||mu|| = ``signal`` and views x + sigma eps. Expectations are Monte Carlo averages over
    ``n_batches`` batches of ``batch_size`` pairs, with the same draws (common random numbers)
    for every rho, sigma and tau, so differences are smooth. u = e_0 without loss of generality.

    Shapes: ``x`` (n_batches, batch_size, dim); ``eps`` (2, n_batches, batch_size, dim).
    """

    def __init__(self, dim: int, signal: float, batch_size: int, n_batches: int, seed: int,
                 device=None, dtype=torch.float32):
        _dim("dim", dim)
        _real("signal", signal, nonneg=True)
        for name, v in (("batch_size", batch_size), ("n_batches", n_batches)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (2 if name == "batch_size" else 1):
                raise ValueError(f"{name} must be an int >= {2 if name == 'batch_size' else 1}, got {v!r}")
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, 2, (n_batches, batch_size), generator=g).double() * 2 - 1
        x = torch.randn(n_batches, batch_size, dim, generator=g, dtype=torch.float64)
        x[..., 0] += signal * y
        eps = torch.randn(2, n_batches, batch_size, dim, generator=g, dtype=torch.float64)
        self.x = x.to(device=device, dtype=dtype)  # (nb, N, d)
        self.eps = eps.to(device=device, dtype=dtype)  # (2, nb, N, d)

    def embeddings(self, log_rho, sigma: float) -> torch.Tensor:
        """(nb, 2N, d) unit-norm M_rho views, view-1 rows then view-2 rows (differentiable).

        Raises:
            ValueError: sigma negative or not finite.
        """
        _real("sigma", sigma, nonneg=True)
        log_rho = torch.as_tensor(log_rho, dtype=self.x.dtype, device=self.x.device)
        v = self.x + sigma * self.eps  # (2, nb, N, d)
        gain = torch.ones(v.shape[-1], dtype=v.dtype, device=v.device)
        gain = torch.cat([torch.exp(log_rho).reshape(1), gain[1:]])  # rho along u = e_0
        z = F.normalize(v * gain, dim=-1)
        return torch.cat([z[0], z[1]], dim=1)

    def similarities(self, log_rho, sigma: float) -> torch.Tensor:
        """(nb, 2N, 2N) cosine similarities of the views after M_rho."""
        z = self.embeddings(log_rho, sigma)
        return z @ z.transpose(1, 2)

    def scaled_losses(self, sims: torch.Tensor, taus) -> torch.Tensor:
        """tau * E[L] for each tau, from precomputed similarities: a (len(taus),) tensor."""
        taus = _temperatures(taus)
        n2 = sims.shape[-1]
        mask = torch.eye(n2, dtype=torch.bool, device=sims.device)
        partner = torch.arange(n2, device=sims.device).roll(n2 // 2)
        out = []
        for tau in np.atleast_1d(taus):
            logp = (sims / tau).masked_fill(mask, float("-inf")).log_softmax(-1)  # (nb, 2N, 2N)
            out.append(-tau * logp.gather(-1, partner.expand(*sims.shape[:2])[..., None]).mean())
        return torch.stack(out)

    def scaled_loss(self, log_rho, sigma: float, taus) -> torch.Tensor:
        """tau * E[L_NT-Xent(M_rho x)] for each tau in ``taus``: a (len(taus),) tensor."""
        return self.scaled_losses(self.similarities(log_rho, sigma), taus)

    def slope(self, sigma: float, tau: float) -> float:
        """d(tau * L)/d log(rho) at rho = 1 by autograd: < 0 means the loss wants to expand u."""
        log_rho = torch.zeros((), dtype=self.x.dtype, device=self.x.device, requires_grad=True)
        (grad,) = torch.autograd.grad(self.scaled_loss(log_rho, sigma, [tau])[0], log_rho)
        return grad.item()

    def positive_tilt(self, sigma: float) -> float:
        r"""Monte Carlo mean of :math:`\delta_{i\,j(i)} = dS_{i\,j(i)}/d\log\rho` at rho = 1 over
        the positive pairs: this batch's estimate of :func:`positive_pair_tilt`."""
        with torch.no_grad():
            z = self.embeddings(0.0, sigma)  # (nb, 2N, d)
            n = z.shape[1] // 2
            a, b = z[:, :n], z[:, n:]  # the two views of each sample, (nb, N, d)
            S, ca, cb = (a * b).sum(-1), a[..., 0], b[..., 0]
            return (2 * ca * cb - S * (ca ** 2 + cb ** 2)).double().mean().item()

    def slopes(self, sigma: float, taus, per_batch: bool = False) -> np.ndarray:
        r"""The same slope for many taus at once, in closed form from one set of similarities.

        At rho = 1, with c_i the u-component of the unit embedding z_i,
        :math:`dS_{ij}/d\log\rho = 2c_ic_j - S_{ij}(c_i^2 + c_j^2)`, and
        :math:`d(\tau\ell_i)/dS_{ij} = p_{ij} - [j = j(i)]` (p: the softmax of row i over j != i).

        Returns (len(taus),), or with ``per_batch`` (len(taus), n_batches): each batch's own
        slope, whose mean is the slope (their spread gives its Monte Carlo standard error).
        """
        taus = _temperatures(taus)
        with torch.no_grad():
            z = self.embeddings(0.0, sigma)  # (nb, 2N, d)
            S = z @ z.transpose(1, 2)
            c = z[..., 0]
            dS = 2 * c[..., :, None] * c[..., None, :] - S * (c[..., :, None] ** 2 + c[..., None, :] ** 2)
            n2 = S.shape[-1]
            mask = torch.eye(n2, dtype=torch.bool, device=S.device)
            partner = torch.arange(n2, device=S.device).roll(n2 // 2)
            d_pos = dS.gather(-1, partner.expand(*S.shape[:2])[..., None]).squeeze(-1)  # (nb, 2N)
            out = [((torch.softmax((S / tau).masked_fill(mask, float("-inf")), -1) * dS).sum(-1)
                    - d_pos).mean(-1) for tau in np.atleast_1d(taus)]  # (nb,) each
            if not per_batch:
                out = [o.mean() for o in out]
        return torch.stack(out).double().cpu().numpy()

    def loss_curves(self, sigma: float, taus, log_rhos) -> np.ndarray:
        """(len(taus), len(log_rhos)) values of tau * [L(rho) - L(1)]."""
        with torch.no_grad():
            vals = torch.stack([self.scaled_loss(float(a), sigma, taus) for a in log_rhos], dim=1)
            base = self.scaled_loss(0.0, sigma, taus)[:, None]
        return (vals - base).cpu().numpy()

    def threshold(self, sigma: float, taus, rel_tol: float = 1e-4, iters: int = 8) -> float:
        """The largest temperature where the slope at rho = 1 turns from > 0 (shrink) to < 0.

        Scans the increasing grid ``taus``, ignores slopes below ``rel_tol`` times the largest
        (the saturated low-tau corner, where the loss is flat to e^-50 and the sign is noise),
        then bisects in log tau inside the last bracket. Returns -inf when the slope is
        negative at every tau (the signal expands everywhere), +inf when positive at the largest.
        """
        taus = np.asarray(taus, dtype=float)
        g = self.slopes(sigma, taus)
        keep = np.abs(g) > rel_tol * np.abs(g).max()
        if not keep.any():
            return math.nan  # the loss does not depend on rho at any temperature given
        t, g = taus[keep], g[keep]
        if g[-1] > 0:
            return math.inf
        up = np.nonzero((g[:-1] > 0) & (g[1:] < 0))[0]
        if len(up) == 0:
            return -math.inf
        lo, hi = math.log(t[up[-1]]), math.log(t[up[-1] + 1])
        for _ in range(iters):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.slopes(sigma, [math.exp(mid)])[0] > 0 else (lo, mid)
        return math.exp((lo + hi) / 2)


def positive_pair_tilt(dim: int, signal: float, sigma: float) -> float:
    r"""How fast expanding u raises a positive pair's cosine: :math:`\partial\,\mathbb E[S_{i\,j(i)}]
    / \partial\log\rho` at rho = 1, to leading order in 1/d (the book's derivation, Chapter 4).

    Replace each view's squared norm by its mean :math:`D = r^2 + d(1+\sigma^2)` and the views'
    inner product by its mean :math:`r^2 + d`; the u-components keep their moments
    (:math:`\mathbb E[x^{(1)}_u x^{(2)}_u] = r^2 + 1`, :math:`\mathbb E[(x^{(1)}_u)^2] = r^2 + 1 +
    \sigma^2`). Then

    .. math:: \mathbb E[\delta_{\rm pos}] \approx \frac{2}{D}\Big[(r^2+1) - \frac{r^2+d}{D}
              (r^2+1+\sigma^2)\Big] = \frac{2\sigma^2 r^2 (d-1)}{D^2} \ \ge 0,

    zero only without augmentation (the views coincide) or without signal.

    Raises:
        TypeError / ValueError: dim not an int >= 2, signal or sigma not real numbers >= 0.
    """
    d = _dim("dim", dim)
    r = _real("signal", signal, nonneg=True)
    sigma = _real("sigma", sigma, nonneg=True)
    D = r**2 + d * (1 + sigma**2)
    return 2 * sigma**2 * r**2 * (d - 1) / D**2


def large_tau_slope(dim: int, signal: float, sigma: float, batch_size: int) -> float:
    r"""The limit tau -> inf of the reduced loss's slope :math:`\partial(\tau L)/\partial\log\rho`
    at rho = 1 (:meth:`ReducedProblem.slopes`), to leading order in 1/d.

    As tau grows the softmax weights become uniform, :math:`p_{ij} \to 1/(2N-1)`; the negatives
    then enter through :math:`\mathbb E[S_{\rm neg}]`, which is 0 at every rho (two samples are
    independent and the mixture is symmetric under x -> -x), so only alignment is left:

    .. math:: \lim_{\tau\to\infty} \frac{\partial(\tau L)}{\partial\log\rho}\Big|_{\rho=1}
              = -\frac{2N-2}{2N-1}\,\mathbb E[\delta_{\rm pos}]
              \approx -\frac{2N-2}{2N-1}\,\frac{2\sigma^2 r^2 (d-1)}{(r^2 + d(1+\sigma^2))^2} .

    Negative for every sigma > 0 and r > 0: at high temperature the loss expands the signal.

    Raises:
        TypeError / ValueError: as :func:`positive_pair_tilt`; batch_size not an int >= 2.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2, got {batch_size!r}")
    return -(2 * batch_size - 2) / (2 * batch_size - 1) * positive_pair_tilt(dim, signal, sigma)


def descend(log_rhos: np.ndarray, curve: np.ndarray, tol: float = 1e-7) -> float:
    """The minimum that walking downhill from rho = 1 reaches (what gradient descent finds).

    ``log_rhos`` must contain 0. Steps smaller than ``tol`` do not count as downhill, so on a
    plateau (the saturated low-temperature corner) the walk stays at rho = 1. The minimiser
    is refined by the parabola through the last point and its neighbours.
    """
    i = int(np.argmin(np.abs(log_rhos)))
    while True:
        left = curve[i - 1] if i > 0 else np.inf
        right = curve[i + 1] if i < len(curve) - 1 else np.inf
        if min(left, right) >= curve[i] - tol:
            break
        i = i - 1 if left < right else i + 1
    if 0 < i < len(curve) - 1:
        y0, y1, y2 = curve[i - 1:i + 2]
        den = y0 - 2 * y1 + y2
        if den > 0:
            return float(log_rhos[i] + 0.5 * (y0 - y2) / den * (log_rhos[1] - log_rhos[0]))
    return float(log_rhos[i])
