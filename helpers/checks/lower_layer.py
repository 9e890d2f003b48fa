"""Chapter 3's auto-checks (when lower layers win): ``check_ridge_simulation``, ``check_loo_ridge``."""

from __future__ import annotations

import numpy as np

from helpers.checks.core import CheckFailed, check_scalar, student_call


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


def _cases():
    """(name, H, y, ridges): fewer labels than features, more, and a tiny problem."""
    rng = np.random.default_rng(11)
    out = []
    for name, n, k, noise in (("12 labels, 20 features", 12, 20, 0.3),
                              ("40 labels, 10 features", 40, 10, 0.5),
                              ("6 labels, 3 features, noiseless", 6, 3, 0.0)):
        H = rng.standard_normal((n, k)) * np.exp(rng.normal(0, 0.7, k))
        y = H[:, 0] / 2 + noise * rng.standard_normal(n)
        out.append((name, H, y, np.geomspace(1e-3, 1e2, 11)))
    return out


def check_loo_ridge(fn, rtol: float = 1e-6) -> bool:
    """Check ``fn(H, y, ridges) -> (ridge, beta)`` against :func:`helpers.ridge_cv.loo_ridge`.

    The chosen penalty must be the reference's (one of the candidates), and ``beta`` the
    coefficients refitted on all n examples at it, to ``rtol``. Success prints a line and
    returns True; a wrong answer raises ``CheckFailed`` (an ``AssertionError``) with the case
    and a hint; the book's own ``loo_ridge`` is refused."""
    from helpers.ridge_cv import loo_ridge

    name, cases = "leave-one-out ridge", _cases()
    for i, (label, H, y, ridges) in enumerate(cases, 1):
        got = student_call(fn, (H, y, ridges), name=name, case=label, forbid=(loo_ridge,))
        try:
            ridge, beta = float(got[0]), np.asarray(got[1], dtype=float)
        except (TypeError, ValueError, IndexError, KeyError):
            raise CheckFailed(f"{name}, case {i}/{len(cases)} ({label}): return (ridge, beta); "
                              f"got {type(got).__name__}") from None
        ref_beta, ref_ridge, loo = loo_ridge(H, y, ridges)
        hint = ("Hint: for each penalty, leave example i out, fit b = (H^T H + n ridge I)^-1 "
                "H^T y on the other n - 1 rows (n = all labelled examples, as in the chapter's "
                "convention), square the error on example i, average over i; pick the penalty "
                "with the smallest average; then refit on all n rows at that penalty.")
        if not np.isclose(ridge, ref_ridge, rtol=1e-9):
            raise CheckFailed(f"{name}, case {i}/{len(cases)} ({label}): you chose penalty "
                              f"{ridge:.4g}, leave-one-out chooses {ref_ridge:.4g} (its LOO error "
                              f"{loo.min():.4f}).\n{hint}")
        if beta.shape != ref_beta.shape or not np.allclose(beta, ref_beta, rtol=rtol, atol=1e-10):
            raise CheckFailed(f"{name}, case {i}/{len(cases)} ({label}): the penalty is right but "
                              f"beta differs (shape {beta.shape}, expected {ref_beta.shape}).\n{hint}")
    print(f"✓ {name} chooses the same penalty and coefficients as helpers.ridge_cv.loo_ridge "
          f"({len(cases)} cases)")
    return True
