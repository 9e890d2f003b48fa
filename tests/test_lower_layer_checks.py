"""Chapter 3's tuned-penalty exercise check (helpers.checks.lower_layer): a right answer passes,
wrong ones fail with the case named, a stub says it is not implemented."""

import numpy as np
import pytest

from helpers.checks import ExerciseNotImplementedError as LooExerciseNotImplementedError
from helpers.checks import check_loo_ridge


def naive_loo_ridge(H, y, ridges):
    """The exercise's solution, written as a plain refitting loop."""
    n, k = H.shape
    errs = []
    for ridge in ridges:
        e = 0.0
        for i in range(n):
            keep = np.arange(n) != i
            b = np.linalg.solve(H[keep].T @ H[keep] + n * ridge * np.eye(k), H[keep].T @ y[keep])
            e += (y[i] - H[i] @ b) ** 2
        errs.append(e / n)
    best = ridges[int(np.argmin(errs))]
    return best, np.linalg.solve(H.T @ H + n * best * np.eye(k), H.T @ y)


def test_the_solution_passes():
    assert check_loo_ridge(naive_loo_ridge)


def test_a_stub_reports_not_implemented():
    def stub(H, y, ridges):
        raise NotImplementedError("write it")
    with pytest.raises(LooExerciseNotImplementedError, match="not implemented"):
        check_loo_ridge(stub)
    assert issubclass(LooExerciseNotImplementedError, AssertionError)


def test_choosing_on_the_training_error_fails():
    """Training error always prefers the smallest penalty: not a validation choice."""
    def on_training_error(H, y, ridges):
        n, k = H.shape
        fits = [np.linalg.solve(H.T @ H + n * r * np.eye(k), H.T @ y) for r in ridges]
        j = int(np.argmin([np.mean((y - H @ b) ** 2) for b in fits]))
        return ridges[j], fits[j]
    with pytest.raises(AssertionError, match="you chose penalty"):
        check_loo_ridge(on_training_error)


def test_coefficients_not_refitted_on_all_examples_fail():
    def no_refit(H, y, ridges):
        ridge, _ = naive_loo_ridge(H, y, ridges)
        n, k = H.shape
        return ridge, np.linalg.solve(H[1:].T @ H[1:] + n * ridge * np.eye(k), H[1:].T @ y[1:])
    with pytest.raises(AssertionError, match="beta differs"):
        check_loo_ridge(no_refit)


def test_the_books_own_implementation_is_refused():
    from helpers.ridge_cv import loo_ridge

    def aliased(H, y, ridges):
        beta, ridge, _ = loo_ridge(H, y, ridges)
        return ridge, beta
    with pytest.raises(AssertionError):
        check_loo_ridge(aliased)
