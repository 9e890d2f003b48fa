"""Auto-check for Chapter 3's exercise on a tuned penalty (leave-one-out ridge).

* :func:`check_loo_ridge` - a student's leave-one-out choice of the ridge penalty against
  :func:`helpers.ridge_cv.loo_ridge` (itself tested against scikit-learn's ``RidgeCV``).

Standalone on purpose (it does not import :mod:`helpers.checks`); its not-implemented error is
both a ``NotImplementedError`` and an ``AssertionError``, like the checks' core.
"""

from __future__ import annotations

import numpy as np


class LooExerciseNotImplementedError(NotImplementedError, AssertionError):
    """The exercise's stub has not been filled in yet."""


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
    returns True; a wrong answer raises ``AssertionError`` with the case and a hint."""
    from helpers.ridge_cv import loo_ridge

    cases = _cases()
    for i, (name, H, y, ridges) in enumerate(cases, 1):
        try:
            got = fn(H.copy(), y.copy(), ridges.copy())
        except NotImplementedError as err:
            raise LooExerciseNotImplementedError(
                f"leave-one-out ridge: exercise not implemented yet: {err}. Fill in your code "
                "in the cell above, run it, then run this check again.") from None
        try:
            ridge, beta = float(got[0]), np.asarray(got[1], dtype=float)
        except (TypeError, ValueError, IndexError):
            raise AssertionError(f"leave-one-out ridge, case {i}/{len(cases)} ({name}): return "
                                 f"(ridge, beta); got {type(got).__name__}") from None
        ref_beta, ref_ridge, loo = loo_ridge(H, y, ridges)
        hint = ("Hint: for each penalty, leave example i out, fit b = (H^T H + n ridge I)^-1 "
                "H^T y on the other n - 1 rows (n = all labelled examples, as in the chapter's "
                "convention), square the error on example i, average over i; pick the penalty "
                "with the smallest average; then refit on all n rows at that penalty.")
        if not np.isclose(ridge, ref_ridge, rtol=1e-9):
            raise AssertionError(
                f"leave-one-out ridge, case {i}/{len(cases)} ({name}): you chose penalty "
                f"{ridge:.4g}, leave-one-out chooses {ref_ridge:.4g} (its LOO error "
                f"{loo.min():.4f}).\n{hint}")
        if beta.shape != ref_beta.shape or not np.allclose(beta, ref_beta, rtol=rtol,
                                                           atol=1e-10):
            raise AssertionError(
                f"leave-one-out ridge, case {i}/{len(cases)} ({name}): the penalty is right but "
                f"beta differs (shape {beta.shape}, expected {ref_beta.shape}).\n{hint}")
    print(f"✓ leave-one-out ridge chooses the same penalty and coefficients as "
          f"helpers.ridge_cv.loo_ridge ({len(cases)} cases)")
    return True
