"""Chapter 6's auto-checks (class collapse).

* :func:`check_positive_mask` - SupCon's positive mask (Khosla et al. 2020, eq. 2).
* :func:`check_fine_gap` - the fine-probe gap h - z per seed, from a class-collapse payload.
* :func:`check_coarse_accuracy` - the sub-class model's coarse Bayes accuracy (a closed form).
* :func:`check_supcon` - the supervised contrastive loss.
"""

from __future__ import annotations

import numpy as np

from helpers.checks.core import check_function, check_scalar, randn


def positive_mask(labels, n_views: int):
    """(A, A) bool, A = batch * n_views, anchors in view-major order (all first views, then all
    second views, ... as :func:`helpers.losses.supcon` orders them): True where two different
    anchors share a label."""
    import torch

    lab = torch.as_tensor(labels).repeat(n_views)
    same = lab[:, None] == lab[None, :]
    return same & ~torch.eye(len(lab), dtype=torch.bool)


def check_positive_mask(fn) -> bool:
    """Check ``fn(labels, n_views) -> (A, A) bool`` against :func:`positive_mask`."""
    import torch

    cases = [("3 images, 2 views", (torch.tensor([0, 1, 0]), 2)),
             ("all labels distinct (SimCLR's positives)", (torch.arange(4), 2)),
             ("all labels equal, 3 views", (torch.zeros(3, dtype=torch.long), 3)),
             ("one image, 2 views", (torch.tensor([5]), 2)),
             ("one view: positives are other images with the label", (torch.tensor([1, 1, 2]), 1))]
    return check_function(
        fn, positive_mask, cases, "SupCon positive mask", atol=0,
        hint="repeat the labels once per view (view-major: labels.repeat(n_views)), compare every "
             "pair, and remove the diagonal: an anchor is not its own positive.",
        diagnose={"remove the diagonal: an anchor is not its own positive":
                  lambda lab, v: positive_mask(lab, v) | torch.eye(len(lab) * v, dtype=torch.bool),
                  "order the views view-major (labels.repeat(n_views)), not image-major "
                  "(repeat_interleave)":
                  lambda lab, v: (lab.repeat_interleave(v)[:, None] == lab.repeat_interleave(v)[None])
                  & ~torch.eye(len(lab) * v, dtype=torch.bool)})


def fine_gaps(payload: dict, method: str) -> np.ndarray:
    """(n_seeds,) fine-probe accuracy at h minus at z, in percentage points."""
    from helpers.experiments.class_collapse import PRE

    fine = 100 * np.asarray(payload["fine"][method], dtype=float)
    return fine[:, PRE] - fine[:, -1]


def check_fine_gap(fn, payload: dict) -> bool:
    """Check ``fn(payload, method) -> (n_seeds,)`` on every method with a head in ``payload``,
    and on a hand-made payload with a known answer."""
    from helpers.experiments.class_collapse import LAYERS

    toy = {"layers": list(LAYERS), "methods": ["x/mlp"],
           "fine": {"x/mlp": [[0.1, 0.2, 0.3, 0.50, 0.40, 0.25], [0.1, 0.2, 0.3, 0.4, 0.45, 0.5]]}}
    cases = [("hand-made: gaps +25 and -10 points", (toy, "x/mlp"))]
    cases += [(f"the chapter's {m}", (payload, m)) for m in payload["methods"]
              if not m.endswith("/none")]
    return check_function(
        fn, fine_gaps, cases, "fine-probe gap", atol=1e-6,
        hint="for each seed take the fine accuracy at 'h' (index PRE) minus the one at "
             "the last layer, z, and express it in percentage points (x 100).")


def check_coarse_accuracy(fn, tolerance: float = 0.01) -> bool:
    """Check ``fn(K, snr)`` against :func:`helpers.theory.collapse.coarse_accuracy` (within
    ``tolerance``, so a careful Monte Carlo with ~10^5 samples also passes); the book's own
    function is refused as an answer."""
    from helpers.checks.core import refuse_book_answer
    from helpers.theory.collapse import coarse_accuracy

    name = "coarse accuracy"
    refuse_book_answer(fn, (coarse_accuracy,), name)
    cases = [(f"K = {K}, r / sigma = {snr}", (K, snr)) for K, snr in [(1, 1.0), (2, 0.0), (3, 1.5), (5, 3.0)]]
    check_scalar(
        fn, cases, coarse_accuracy, name, tolerance,
        lambda label, got, want: (
            f"expected {want:.4f}, got {got:.4f}.\nHint: the rule picks the axis with the largest "
            "|x_k|; the true axis has |a + u|, each of the K - 1 others |u_j| with "
            "P(|u_j| < t) = 2 Phi(t) - 1. K = 1 must give 1, snr = 0 must give 1 / K."))
    print(f"✓ {name} passed ({len(cases)} cases)")
    return True


def check_supcon(fn, reference=None) -> bool:
    """Check ``fn(features, labels, temperature)`` (features: batch, n_views, dim) against
    ``helpers.losses.supcon`` (refused as an answer)."""
    import torch
    from helpers.losses import supcon
    reference = reference or supcon
    cases = [
        ("batch 8, 2 views, 3 classes", (randn(0, 8, 2, 16), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])),
         {"temperature": 0.5}),
        ("batch 6, 3 views, tau=0.1", (randn(1, 6, 3, 8), torch.tensor([0, 0, 1, 1, 2, 2])),
         {"temperature": 0.1}),
        ("all labels distinct (SimCLR case)", (randn(2, 5, 2, 8), torch.arange(5)), {"temperature": 0.5}),
        ("all labels equal", (randn(3, 4, 2, 8), torch.zeros(4, dtype=torch.long)), {"temperature": 0.5}),
        ("smallest batch: 1 image, 2 views", (randn(4, 1, 2, 4), torch.tensor([3])), {"temperature": 0.5}),
    ]
    return check_function(
        fn, reference, cases, "SupCon", forbid=(supcon,),
        hint="each anchor's positives are all other views with its label (not itself); average "
             "the log-probabilities over the positives, then over anchors; exclude the anchor "
             "itself from the denominator.")
