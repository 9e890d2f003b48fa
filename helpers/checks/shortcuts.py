"""Chapter 7's auto-checks (shortcuts).

``check_shortcut_metrics(fn)``: the student's I.D. accuracy and gaps against a reference written
here as plain loops (independent of :func:`helpers.metrics.shortcut_metrics`, which is refused as
an answer). ``check_lle_mixture(fn)``: the Last Layer Ensemble's inference rule (the authors' logit
mixing) against a reference written with torch ops.
"""

from __future__ import annotations

import numpy as np

from helpers.checks.core import CheckFailed, _NotNumbers, as_numbers, check_function

GAP_KEYS = ("id_acc", "bg_gap", "coobj_gap", "both_gap")
#: training frequency of each (background agrees, co-object agrees) pattern in UrbanCars
PATTERN_WEIGHT = {(True, True): .95 * .95, (True, False): .95 * .05,
                  (False, True): .05 * .95, (False, False): .05 * .05}


def _metrics_case(seed: int, n: int, p_correct: float):
    rng = np.random.default_rng(seed)
    label = np.tile([0, 1], n // 2)
    bg, coobj = rng.integers(0, 2, n), rng.integers(0, 2, n)
    # every (label, bg, coobj) cell present at least once
    cells = np.array([(y, b, o) for y in (0, 1) for b in (0, 1) for o in (0, 1)])
    label[:8], bg[:8], coobj[:8] = cells.T
    # a model that leans on the background: right when it agrees, worse when it does not
    right = rng.random(n) < np.where(bg == label, p_correct, 1 - p_correct)
    return np.where(right, label, 1 - label), label, bg, coobj


def _as_vector(result):
    """The student's dict -> (4,) numbers in GAP_KEYS order (AssertionError saying what is off)."""
    if not isinstance(result, dict) or any(k not in result for k in GAP_KEYS):
        got = (f"a dict with keys {sorted(map(str, result))}" if isinstance(result, dict)
               else "None (a missing `return`?)" if result is None else type(result).__name__)
        raise CheckFailed(f"shortcut metrics: return a dict with keys {', '.join(GAP_KEYS)}; "
                             f"got {got}")
    try:
        return np.array([float(as_numbers(result[k], f"the value of {k!r}")) for k in GAP_KEYS])
    except (_NotNumbers, TypeError) as err:
        raise CheckFailed(f"shortcut metrics: {err}") from None


def _reference(pred, label, bg, coobj):
    """I.D. accuracy and the three gaps, as plain loops over the (label, bg, co-object) cells."""
    acc = {}
    for bg_agrees in (True, False):
        for obj_agrees in (True, False):
            per_label = []
            for y in (0, 1):
                cell = (label == y) & ((bg == y) == bg_agrees) & ((coobj == y) == obj_agrees)
                per_label.append(np.mean(pred[cell] == y))
            acc[bg_agrees, obj_agrees] = np.mean(per_label)
    id_acc = sum(acc[k] * w for k, w in PATTERN_WEIGHT.items())
    return np.array([id_acc, acc[False, True] - id_acc, acc[True, False] - id_acc,
                     acc[False, False] - id_acc])


def _pooled_variant(pred, label, bg, coobj):
    """Wrong: pools the images of a pattern instead of averaging the two labels' accuracies."""
    acc = {}
    for bp in (0, 1):
        for op in (0, 1):
            m = ((bg == label) == bp) & ((coobj == label) == op)
            acc[bp, op] = (pred[m] == label[m]).mean()
    w = {(1, 1): .9025, (1, 0): .0475, (0, 1): .0475, (0, 0): .0025}
    i = sum(acc[k] * w[k] for k in w)
    return np.array([i, acc[0, 1] - i, acc[1, 0] - i, acc[0, 0] - i])


def _unweighted_variant(pred, label, bg, coobj):
    """Wrong: plain accuracy instead of the training-frequency weighting for I.D."""
    acc = _reference(pred, label, bg, coobj)
    i = float((pred == label).mean())
    return np.array([i, *(acc[1:] + acc[0] - i)])


def check_shortcut_metrics(fn) -> bool:
    """Check ``fn(pred, label, bg, coobj) -> {'id_acc', 'bg_gap', 'coobj_gap', 'both_gap'}``."""
    from helpers.metrics import cell_accuracy, pattern_accuracy, shortcut_metrics

    name = "shortcut metrics"
    cases = [(f"seed {s}, {n} images, background-reliant model", _metrics_case(s, n, p))
             for s, n, p in ((0, 400, 0.9), (1, 64, 0.7), (2, 1000, 0.99))]
    return check_function(
        fn, _reference, cases, name, atol=1e-9, convert=_as_vector,
        forbid=(shortcut_metrics, cell_accuracy, pattern_accuracy),
        hint="a group's accuracy is the mean over the two labels of the accuracy in each "
             "(label, bg, co-object) cell; I.D. weighs the four patterns by .9025/.0475/.0475/.0025; "
             "BG gap uses the pattern where the background disagrees and the co-object agrees.",
        diagnose={"you pooled the images of each pattern: average the two labels' cell "
                  "accuracies instead (each label counts equally)": _pooled_variant,
                  "I.D. accuracy is not the plain accuracy: weigh the four patterns by their "
                  "training frequencies": _unweighted_variant})


def _lle_reference(shift_logits, head_logits):
    """The authors' rule (``model/classifiers.py``, ``LastLayerEnsemble.forward`` at eval):
    the heads' logits weighted by the shift predictor's softmax."""
    import torch
    w = torch.softmax(shift_logits, dim=1)  # (n, K)
    return (w[:, :, None] * head_logits).sum(dim=1)  # (n, C) logits


def _lle_argmax_variant(shift_logits, head_logits):
    import torch
    k = shift_logits.argmax(dim=1)
    return head_logits[torch.arange(len(k)), k]


def _lle_probability_variant(shift_logits, head_logits):
    import torch
    w = torch.softmax(shift_logits, dim=1)
    return (w[:, :, None] * torch.softmax(head_logits, dim=2)).sum(dim=1)


def _lle_unweighted_variant(shift_logits, head_logits):
    return head_logits.mean(dim=1)


def check_lle_mixture(fn) -> bool:
    """Check ``fn(shift_logits (n, K), head_logits (n, K, C)) -> (n, C)`` mixed logits, the
    authors' inference rule."""
    import torch
    g = torch.Generator().manual_seed(0)
    cases = [("n=5, K=3, C=2", (torch.randn(5, 3, generator=g), torch.randn(5, 3, 2, generator=g))),
             ("n=1, K=2, C=2", (torch.randn(1, 2, generator=g), torch.randn(1, 2, 2, generator=g))),
             ("n=4, K=3, C=5, confident", (10 * torch.randn(4, 3, generator=g),
                                           torch.randn(4, 3, 5, generator=g)))]
    return check_function(
        fn, _lle_reference, cases, "LLE mixture", atol=1e-6,
        hint="softmax the shift predictor's logits over the K heads, then sum the heads' "
             "logits weighted by those probabilities (no softmax over the classes: the "
             "ensemble returns logits, as the authors' LastLayerEnsemble does).",
        diagnose={"you picked the single most likely head: LLE mixes all heads by the shift "
                  "predictor's probabilities": _lle_argmax_variant,
                  "you mixed the heads' class probabilities: the authors mix their logits "
                  "(model/classifiers.py, LastLayerEnsemble.forward)": _lle_probability_variant,
                  "you averaged the heads equally: weigh them by the shift predictor's "
                  "softmax": _lle_unweighted_variant})
