"""Chapter 2's auto-checks (feature weighting): ``check_optimal_gains``, ``check_spectral``."""

from __future__ import annotations

import numpy as np

from helpers.checks.core import check_function, randn


def check_optimal_gains(fn, reference=None) -> bool:
    """Check ``fn(phi, p, sigma)`` -> (d,) gains against ``helpers.theory.linear.optimal_gains``
    (which is refused as an answer)."""
    from helpers.theory.linear import optimal_gains
    reference = reference or optimal_gains
    cases = [
        ("three features, sigma 0.5", (np.array([1.4, 1.0, 0.7]), np.array([0.6, 0.0, 0.2]), 0.5)),
        ("no augmentation noise", (np.array([2.0, 1.0, 0.5]), np.array([0.0, 0.5, 0.0]), 0.0)),
        ("a feature always redrawn (p = 1)", (np.array([1.0, 1.0]), np.array([1.0, 0.0]), 0.3)),
        ("one feature", (np.array([0.8]), np.array([0.1]), 1.0)),
    ]
    wrong = {  # common slips, each with the hint it deserves
        "the optimal A = W^T W is S^-1 M S^-1; the gain is its square root, sqrt(m) / s, "
        "not m / s^2": lambda phi, p, sigma: (1 - p) * phi**2 / (phi**2 + sigma**2) ** 2,
        "s_i is the variance of one view: phi_i^2 + sigma^2, with the noise squared":
            lambda phi, p, sigma: np.sqrt(1 - p) * phi / (phi**2 + sigma),
    }
    return check_function(
        fn, reference, cases, "optimal gains", atol=1e-8, rtol=1e-6, diagnose=wrong,
        forbid=(optimal_gains,),
        hint="g_i = sqrt(m_i) / s_i with m_i = (1 - p_i) phi_i^2 and s_i = phi_i^2 + sigma^2.")


def check_spectral(fn, reference=None) -> bool:
    """Check ``fn(z1, z2)`` against ``helpers.losses.spectral_contrastive`` (refused as an answer)."""
    from helpers.losses import spectral_contrastive
    reference = reference or spectral_contrastive
    cases = [
        ("N=8, p=16", (randn(0, 8, 16), randn(1, 8, 16))),
        ("N=64, p=32", (randn(2, 64, 32), randn(3, 64, 32))),
        ("smallest batch N=2", (randn(4, 2, 4), randn(5, 2, 4))),
        ("large inputs", (5 * randn(6, 16, 8), 5 * randn(7, 16, 8))),
    ]
    return check_function(
        fn, reference, cases, "spectral contrastive loss", forbid=(spectral_contrastive,),
        hint="-2 * mean of the positive pairs' dot products plus the mean of the squared dot "
             "products over the negative (off-diagonal) pairs; do not normalise the rows.")
