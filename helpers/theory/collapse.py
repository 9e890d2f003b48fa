r"""Chapter 6, class collapse: a minimal model with sub-classes, and its probe accuracies.

**Model.** ``K`` coarse classes, each made of two sub-classes (fine classes) that sit on
opposite sides of the origin along its own axis:

.. math:: x = s\, r\, e_k + \sigma \xi, \qquad s \in \{-1, +1\},\ \xi \sim N(0, I_d),

fine class ``(k, s)`` (index ``2k + (s > 0)``), coarse class ``k``. The coarse label is *not*
a linear function of ``x`` (class ``k`` occupies both ``+r e_k`` and ``-r e_k``), so a network
trained on it must first separate the two sub-classes (ReLU units tuned to ``+e_k`` and to
``-e_k``) and then merge them. The **idealised network** does exactly that:

.. math:: h = \big(\mathrm{relu}(x_k), \mathrm{relu}(-x_k)\big)_{k=1..K}, \qquad
          z_k = \mathrm{relu}(x_k) + \mathrm{relu}(-x_k) = |x_k| .

``h`` contains ``x_k = h_{k+} - h_{k-}`` linearly; ``z`` is an even function of every ``x_k``.

**Probe accuracies** (``a = r / \sigma``, ``u ~ N(0, 1)``), derived in the chapter:

* fine labels from ``x`` or ``h`` (the Bayes rule ``argmax_{k,s} s x_k`` is linear in both):
  :math:`A_{fine} = E_u\big[(2\Phi(a+u)-1)^{K-1}\,\mathbb 1\{a+u>0\}\big]`;
* coarse labels from ``x`` through ``|x_k|`` (Bayes, since the posterior of ``k`` grows with
  :math:`\cosh(r x_k / \sigma^2)`), i.e. from ``z``:
  :math:`A_{coarse} = E_u\big[(2\Phi(|a+u|)-1)^{K-1}\big]`;
* fine labels from ``z``: ``z`` has the same distribution for both sub-classes of a coarse class,
  so no classifier beats a coin flip between them: :math:`A_{fine}(z) = A_{coarse} / 2`.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate
from scipy.stats import norm


def _check(K: int, snr: float) -> None:
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise ValueError(f"K (the number of coarse classes) must be an int >= 1, got {K!r}")
    if not np.isfinite(snr) or snr < 0:
        raise ValueError(f"snr = r / sigma must be a finite number >= 0, got {snr!r}")


def fine_accuracy(K: int, snr: float) -> float:
    """Bayes (= best linear) accuracy for the 2K fine labels from x or h; ``snr = r / sigma``.

    Raises:
        ValueError: K < 1 or snr negative / not finite.
    """
    _check(K, snr)
    f = lambda u: norm.pdf(u) * (2 * norm.cdf(snr + u) - 1) ** (K - 1)  # noqa: E731
    return float(integrate.quad(f, -snr, np.inf)[0])


def coarse_accuracy(K: int, snr: float) -> float:
    """Bayes accuracy for the K coarse labels (from x, h or the idealised z = |x|).

    Raises:
        ValueError: K < 1 or snr negative / not finite.
    """
    _check(K, snr)
    f = lambda u: norm.pdf(u) * (2 * norm.cdf(abs(snr + u)) - 1) ** (K - 1)  # noqa: E731
    return float(integrate.quad(f, -np.inf, -snr)[0] + integrate.quad(f, -snr, np.inf)[0])


def collapsed_fine_accuracy(K: int, snr: float) -> float:
    """Best accuracy for the fine labels from the idealised head output z = |x|: A_coarse / 2."""
    return coarse_accuracy(K, snr) / 2


def sample(n: int, K: int, d: int, snr: float, seed: int, sigma: float = 1.0):
    """``(x, fine, coarse)``: n points of the model, fine classes balanced and shuffled.

    Shapes: x (n, d) float64 with the signal axes e_1..e_K the first K coordinates; fine (n,)
    int64 in 0..2K-1 (``2k`` for s = -1, ``2k + 1`` for s = +1); coarse (n,) = fine // 2.

    Raises:
        ValueError: d < K, n < 1, or as :func:`fine_accuracy`.
    """
    _check(K, snr)
    if d < K or n < 1:
        raise ValueError(f"need n >= 1 and d >= K, got n={n}, d={d}, K={K}")
    rng = np.random.default_rng(seed)
    fine = rng.permutation(np.arange(n) % (2 * K))
    coarse = fine // 2
    x = sigma * rng.standard_normal((n, d))
    x[np.arange(n), coarse] += np.where(fine % 2 == 1, 1.0, -1.0) * snr * sigma
    return x, fine.astype(np.int64), coarse.astype(np.int64)


def idealised_layers(x: np.ndarray, K: int) -> dict[str, np.ndarray]:
    """The idealised network's layers: {'h': (n, 2K) sub-class units, 'z': (n, K) = |x_k|}."""
    s = x[:, :K]
    h = np.concatenate([np.maximum(s, 0), np.maximum(-s, 0)], axis=1)
    return {"h": h, "z": h[:, :K] + h[:, K:]}
