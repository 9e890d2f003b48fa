"""Chapter 3's auto-check (when lower layers win): ``check_ridge_simulation``."""

from __future__ import annotations

import numpy as np

from helpers.checks.core import check_scalar


def check_ridge_simulation(fn, tolerance: float = 0.05) -> bool:
    """Check a Monte Carlo ridge probe ``fn(strengths, target, n, ridge, reps, seed)`` -> mean
    test R^2 against the high-dimensional formula ``helpers.theory.linear.ridge_probe_r2``.

    The two are different computations (simulation vs limit), so they agree only to within
    ``tolerance``; a wrong penalty scale or test error gives a much larger gap."""
    from helpers.theory.linear import ridge_probe_r2

    rng = np.random.default_rng(7)
    setups = [(np.exp(rng.normal(0, 0.5, 30)), 0, 20, 0.1), (np.exp(rng.normal(0, 0.5, 30)), 3, 60, 1.0),
              (np.linspace(0.2, 2.0, 30), 0, 60, 0.3)]
    cases = [(f"d = {len(r)}, n = {n}, ridge = {ridge}", (r, target, n, ridge, 200, i))
             for i, (r, target, n, ridge) in enumerate(setups, 1)]
    check_scalar(
        fn, cases, lambda r, target, n, ridge, reps, seed: ridge_probe_r2(r, target, n, ridge),
        "ridge probe simulation", tolerance,
        lambda label, got, want: (
            f"your mean R^2 is {got:.3f}, the theory says {want:.3f}.\nHint: minimise (1/n)||y - "
            "H b||^2 + ridge ||b||^2, i.e. b = (H^T H + n ridge I)^-1 H^T y; the test R^2 of b is "
            "1 - sum_i (r_i b_i - [i == target])^2."))
    print(f"✓ ridge probe simulation agrees with the theory within {tolerance} "
          f"({len(cases)} cases)")
    return True
