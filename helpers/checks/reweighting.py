"""Chapter 8's auto-checks (fixed reweighting): ``check_fixed_head``, ``check_encoder_gains``,
``check_choose_kappa``."""

from __future__ import annotations

import inspect

import numpy as np

from helpers.checks.core import check_function, randn, refuse_book_answer


def reference_fixed_head(h, kappa):
    """z_j = h_j * kappa^(-j) (Xue et al. 2024, Sec. 6), written here independently of
    ``helpers.heads.FixedReweightingHead``. h: (batch, dim) -> (batch, dim)."""
    import torch
    weights = float(kappa) ** -torch.arange(h.shape[1], dtype=torch.float64)
    return h * weights.to(h.dtype)


def check_fixed_head(fn, reference=None) -> bool:
    """Check a fixed re-weighting head: ``fn`` is a class/factory ``fn(dim, kappa)`` returning a
    module (checked via ``forward(h)``) or a function ``fn(h, kappa)``.

    The reference is :func:`reference_fixed_head` (or ``reference``, called the same way as
    ``fn``); ``helpers.heads.FixedReweightingHead`` is refused as an answer.
    """
    import torch
    from helpers.heads import FixedReweightingHead, make_head
    name = "fixed re-weighting head"
    forbid = (FixedReweightingHead, make_head)
    refuse_book_answer(fn, forbid, name)

    def _is_factory(f):
        try:
            params = list(inspect.signature(f).parameters)
        except (TypeError, ValueError):
            return False
        return bool(params) and params[0] in ("dim", "d", "in_dim", "dimension")

    def apply(make, h, dim, kappa):
        torch.manual_seed(0)
        if inspect.isclass(make) or _is_factory(make):
            return make(dim, kappa)(h)
        return make(h, kappa)

    ref = (lambda h, d, k: reference_fixed_head(h, k)) if reference is None else \
        (lambda h, d, k: apply(reference, h, d, k))
    student = fn if not callable(fn) else (lambda h, d, k: apply(fn, h, d, k))
    cases = [(f"dim={d}, kappa={k}, batch={b}", (randn(s, b, d), d, k))
             for s, (d, k, b) in enumerate([(8, 1.0, 4), (16, 1.05, 10), (4, 1.5, 3), (32, 2.0, 1)])]
    with torch.no_grad():
        return check_function(
            student, ref, cases, name, forbid=forbid,
            hint="the head multiplies feature j by its fixed weight (built from kappa); check "
                 "the weights' order (kappa ** -j for j = 0, 1, ...) and kappa = 1 (identity).")


def check_encoder_gains(fn, reference=None) -> bool:
    """Check ``fn(phi, p, sigma, kappa)`` -> (d,) encoder gains ``||W e_i||`` under the fixed
    head without weight decay, against :func:`helpers.theory.reweighting.fixed_head_optimum`
    (refused as an answer)."""
    from helpers.theory.reweighting import fixed_head_optimum
    if reference is None:
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
        diagnose=wrong, forbid=(fixed_head_optimum,),
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
    :func:`helpers.experiments.reweighting_report.choose_kappa` (ties -> the smaller k; the
    book's function is refused as an answer)."""
    from helpers.experiments.reweighting_report import choose_kappa
    reference = reference or choose_kappa
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
        forbid=(choose_kappa,),
        hint="mean over seeds per k, take the largest, and among equal means the smallest k.")
