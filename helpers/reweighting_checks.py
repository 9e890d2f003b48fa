"""Exercise auto-checks of chapter 8 (fixed reweighting); re-exported by :mod:`helpers.checks`."""

from __future__ import annotations

import numpy as np

from helpers.checks import check_function


def check_encoder_gains(fn, reference=None) -> bool:
    """Check ``fn(phi, p, sigma, kappa)`` -> (d,) encoder gains ``||W e_i||`` under the fixed
    head without weight decay, against :func:`helpers.theory.reweighting.fixed_head_optimum`."""
    if reference is None:
        from helpers.theory.reweighting import fixed_head_optimum

        def reference(phi, p, sigma, kappa):
            return fixed_head_optimum(phi, p, sigma, kappa)["h_gain"]
    cases = [
        ("k = 1 is no head", (np.array([1.4, 1.0, 0.7]), np.array([0.6, 0.0, 0.2]), 0.5, 1.0)),
        ("three features, k = 1.5", (np.array([1.4, 1.0, 0.7]), np.array([0.6, 0.0, 0.2]), 0.5, 1.5)),
        ("five equal strengths, k = 1.2", (np.ones(5), np.array([0.8, 0.6, 0.4, 0.2, 0.0]), 0.5, 1.2)),
        ("one feature", (np.array([0.8]), np.array([0.1]), 1.0, 2.0)),
    ]
    wrong = {
        "the feature with the LARGEST gain goes to coordinate 0 (the cheapest), so the weakest "
        "gets the largest factor k^j":
            lambda phi, p, sigma, k: _sorted_gains(phi, p, sigma, k, ascending=True),
        "h = D^-1 z: the encoder's gain is the z gain MULTIPLIED by k^j, not divided":
            lambda phi, p, sigma, k: _sorted_gains(phi, p, sigma, 1 / k, ascending=False),
    }
    return check_function(
        fn, reference, cases, "encoder gains under the fixed head", atol=1e-8, rtol=1e-6,
        diagnose=wrong,
        hint="z keeps Part I's gains g_i = sqrt(1 - p_i) phi_i / (phi_i^2 + sigma^2); sort the "
             "features by decreasing g, give the j-th of them coordinate j, and multiply its "
             "gain by k^j to get the encoder's.")


def _sorted_gains(phi, p, sigma, kappa, ascending):
    g = np.sqrt(1 - p) * phi / (phi**2 + sigma**2)
    order = np.argsort(g if ascending else -g, kind="stable")
    rank = np.empty(len(g), dtype=int)
    rank[order] = np.arange(len(g))
    return g * kappa**rank


def check_choose_kappa(fn, reference=None) -> bool:
    """Check ``fn(kappas, val_accuracy)`` -> chosen k against
    :func:`helpers.experiments.reweighting_report.choose_kappa` (ties -> the smaller k)."""
    if reference is None:
        from helpers.experiments.reweighting_report import choose_kappa as reference
    kappas = np.array([1.0, 1.05, 1.2, 1.5])
    cases = [
        ("one seed", (kappas, np.array([0.60, 0.70, 0.65, 0.50]))),
        ("three seeds: the mean decides", (kappas, np.array(
            [[0.6, 0.6, 0.6], [0.9, 0.5, 0.5], [0.63, 0.64, 0.62], [0.5, 0.5, 0.5]]))),
        ("a tie: prefer the weaker head", (kappas, np.array([0.7, 0.7, 0.6, 0.7]))),
        ("unsorted k", (np.array([1.5, 1.0, 1.2]), np.array([0.8, 0.8, 0.1]))),
    ]
    wrong = {"average each k's validation accuracy over seeds before comparing":
             lambda k, v: float(k[np.unravel_index(np.argmax(v), np.shape(v))[0]])}
    return check_function(
        fn, reference, cases, "choosing k on validation", atol=0, diagnose=wrong,
        hint="mean over seeds per k, take the largest, and among equal means the smallest k.")
