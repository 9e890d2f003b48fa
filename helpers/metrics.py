"""Shortcut metrics of the Whac-A-Mole paper (Li et al., CVPR 2023), Chapter 7.

Each test image has a label y and two cue types, background b and co-occurring object o (all
0/1 for UrbanCars). A cue is *present* (aligned) when it equals the label. Group accuracy of a
(background present?, co-object present?) pattern is the **mean over labels** of the accuracy
in the cells (y, b, o) with that pattern, as the authors' released evaluation computes it
(``urbancars_trainers/base_trainer.py``, ``_eval_split``; read, not copied):

* **I.D. accuracy** = sum over the 4 patterns of group accuracy x its training frequency
  (0.95 * 0.95 = 0.9025 both present, 0.0475 each one present, 0.0025 neither);
* **BG gap** = accuracy(background absent, co-object present) - I.D.;
* **CoObj gap** = accuracy(background present, co-object absent) - I.D.;
* **BG+CoObj gap** = accuracy(both absent) - I.D.;
* **worst-group accuracy** = the lowest accuracy over the 8 (y, b, o) cells (the authors' "both"
  worst group, their model-selection metric).

Gaps are negative when a model relies on the cue. All values are fractions (multiply by 100
for the paper's points).
"""

from __future__ import annotations

import numbers

import numpy as np

METRICS = ("id_acc", "bg_gap", "coobj_gap", "both_gap", "worst_group")
METRIC_LABELS = {"id_acc": "I.D. acc", "bg_gap": "BG gap", "coobj_gap": "CoObj gap",
                 "both_gap": "BG+CoObj gap", "worst_group": "worst group"}


def _as_int_array(name, x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real 0/1 values, got {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence (one entry per image), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError(f"{name} must hold integer class indices 0 or 1, got {arr[:5]}...")
        arr = arr.astype(np.int64)
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold 0 or 1 (two classes / cue types), got values "
                         f"{sorted(set(arr.tolist()))[:6]}")
    return arr.astype(np.int64)


def cell_accuracy(pred, label, bg, coobj) -> np.ndarray:
    """Accuracy in each (label, background, co-object) cell, shape (2, 2, 2).

    Raises:
        ValueError: lengths differ, values not 0/1, or a cell has no images (its accuracy, and
            every metric that averages it, would be undefined: evaluate on a set with all 8
            groups, e.g. the balanced UrbanCars val or test split).
    """
    arrays = [_as_int_array(n, a) for n, a in (("pred", pred), ("label", label), ("bg", bg),
                                               ("coobj", coobj))]
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError("pred, label, bg and coobj must have the same length (one entry per "
                         f"image), got lengths {[len(a) for a in arrays]}")
    pred, label, bg, coobj = arrays
    correct = np.zeros((2, 2, 2))
    count = np.zeros((2, 2, 2))
    np.add.at(correct, (label, bg, coobj), (pred == label).astype(float))
    np.add.at(count, (label, bg, coobj), 1.0)
    if (count == 0).any():
        empty = [f"(label {y}, bg {b}, coobj {o})" for y, b, o in np.argwhere(count == 0)]
        raise ValueError(f"empty group(s) {', '.join(empty)}: every (label, background, "
                         "co-object) cell needs at least one image to define the metrics")
    return correct / count


def pattern_accuracy(cells: np.ndarray) -> np.ndarray:
    """(2, 2) accuracy by [background present, co-object present], the mean over labels."""
    out = np.zeros((2, 2))
    for bp in (0, 1):
        for op in (0, 1):
            out[bp, op] = np.mean([cells[y, y if bp else 1 - y, y if op else 1 - y] for y in (0, 1)])
    return out


def shortcut_metrics(pred, label, bg, coobj, bg_ratio: float = 0.95,
                     coobj_ratio: float = 0.95) -> dict:
    """I.D. accuracy, the three gaps and worst-group accuracy (module docstring), as fractions.

    Args:
        pred, label, bg, coobj: (n,) 0/1 predictions, labels, background and co-object types.
        bg_ratio, coobj_ratio: training frequency of each cue agreeing with the label (0.95 in
            UrbanCars), which weighs the groups in I.D. accuracy.

    Returns:
        {'id_acc', 'bg_gap', 'coobj_gap', 'both_gap', 'worst_group'} floats.

    Raises:
        ValueError: mismatched lengths, values other than 0/1, an empty group, or a ratio
            outside [0, 1]. TypeError: complex values.
    """
    for name, r in (("bg_ratio", bg_ratio), ("coobj_ratio", coobj_ratio)):
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0.0 <= r <= 1.0:
            raise ValueError(f"{name} is a probability and must lie in [0, 1], got {r!r}")
    cells = cell_accuracy(pred, label, bg, coobj)
    acc = pattern_accuracy(cells)
    weights = np.outer([1 - bg_ratio, bg_ratio], [1 - coobj_ratio, coobj_ratio])
    id_acc = float((acc * weights).sum())
    return {"id_acc": id_acc, "bg_gap": float(acc[0, 1] - id_acc),
            "coobj_gap": float(acc[1, 0] - id_acc), "both_gap": float(acc[0, 0] - id_acc),
            "worst_group": float(cells.min())}


def predictions_from_probabilities(probs) -> np.ndarray:
    """(n, 2) class probabilities -> (n,) predicted class.

    Raises:
        ValueError: not (n, 2), or entries outside [0, 1] (pass softmax outputs, not logits).
        TypeError: complex values.
    """
    if hasattr(probs, "detach"):
        probs = probs.detach().cpu().numpy()
    if np.iscomplexobj(probs):
        raise TypeError(f"probabilities must be real, got {np.asarray(probs).dtype}")
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"probabilities must be (n, 2), got shape {p.shape}")
    tol = 1e-5  # float32 softmax sums may overshoot 1 by a few ulps
    if not np.all(np.isfinite(p)) or (p < -tol).any() or (p > 1 + tol).any():
        raise ValueError("probabilities must lie in [0, 1]; got values outside it (logits? "
                         "apply softmax first)")
    return p.argmax(axis=1)
