"""Whac-A-Mole metrics (helpers.metrics) on a hand-worked example, against a naive loop, and
their errors."""

import numpy as np
import pytest
import torch

from helpers.metrics import (cell_accuracy, pattern_accuracy, predictions_from_probabilities,
                             shortcut_metrics)


def _dataset(correct_per_cell, per_cell=4):
    """Images of every (label, bg, coobj) cell; the first `correct` of each cell predicted right."""
    pred, label, bg, coobj = [], [], [], []
    for (y, b, o), k in correct_per_cell.items():
        for i in range(per_cell):
            label.append(y), bg.append(b), coobj.append(o)
            pred.append(y if i < k else 1 - y)
    return [np.array(a) for a in (pred, label, bg, coobj)]


# Hand-worked: correct counts out of 4 in each (label, bg, coobj) cell.
HAND = {(0, 0, 0): 4, (0, 0, 1): 4, (0, 1, 0): 2, (0, 1, 1): 1,
        (1, 1, 1): 4, (1, 1, 0): 1, (1, 0, 1): 2, (1, 0, 0): 0}


def test_hand_worked_example():
    # patterns (mean over the two labels): both present (1 + 1)/2 = 1; bg present, obj absent
    # (1 + .25)/2 = .625; bg absent, obj present (.5 + .5)/2 = .5; neither (.25 + 0)/2 = .125
    # I.D. = .9025 * 1 + .0475 * .625 + .0475 * .5 + .0025 * .125 = .95625
    m = shortcut_metrics(*_dataset(HAND))
    assert m["id_acc"] == pytest.approx(0.95625)
    assert m["bg_gap"] == pytest.approx(0.5 - 0.95625)
    assert m["coobj_gap"] == pytest.approx(0.625 - 0.95625)
    assert m["both_gap"] == pytest.approx(0.125 - 0.95625)
    assert m["worst_group"] == 0.0
    assert pattern_accuracy(cell_accuracy(*_dataset(HAND))) == pytest.approx(
        np.array([[0.125, 0.5], [0.625, 1.0]]))


def _naive(pred, label, bg, coobj, r=0.95):
    """The definitions written as plain loops."""
    acc = {}
    for bp in (True, False):
        for op in (True, False):
            per_label = []
            for y in (0, 1):
                hits = [p == l for p, l, b, o in zip(pred, label, bg, coobj)
                        if l == y and (b == l) == bp and (o == l) == op]
                per_label.append(sum(hits) / len(hits))
            acc[bp, op] = sum(per_label) / 2
    w = {(True, True): r * r, (True, False): r * (1 - r), (False, True): (1 - r) * r,
         (False, False): (1 - r) ** 2}
    id_acc = sum(acc[k] * w[k] for k in acc)
    cells = [np.mean([p == l for p, l, b, o in zip(pred, label, bg, coobj) if (l, b, o) == c])
             for c in {(l, b, o) for l, b, o in zip(label, bg, coobj)}]
    return {"id_acc": id_acc, "bg_gap": acc[False, True] - id_acc,
            "coobj_gap": acc[True, False] - id_acc, "both_gap": acc[False, False] - id_acc,
            "worst_group": min(cells)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_naive_loop_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = 300
    label, bg, coobj = (rng.integers(0, 2, n) for _ in range(3))
    pred = np.where(rng.random(n) < 0.7, label, 1 - label)
    got = shortcut_metrics(pred, label, bg, coobj)
    want = _naive(pred, label, bg, coobj)
    for k in want:
        assert got[k] == pytest.approx(want[k]), k


def test_exact_cases_perfect_and_background_reader():
    rng = np.random.default_rng(0)
    label, bg, coobj = (rng.integers(0, 2, 400) for _ in range(3))
    perfect = shortcut_metrics(label, label, bg, coobj)
    assert perfect == pytest.approx({"id_acc": 1, "bg_gap": 0, "coobj_gap": 0, "both_gap": 0,
                                     "worst_group": 1})
    reader = shortcut_metrics(bg, label, bg, coobj)  # predicts the background
    assert reader["id_acc"] == pytest.approx(0.95)
    assert reader["bg_gap"] == pytest.approx(-0.95)
    assert reader["coobj_gap"] == pytest.approx(0.05)
    assert reader["both_gap"] == pytest.approx(-0.95)


def test_accepts_tensors():
    pred, label, bg, coobj = _dataset(HAND)
    m = shortcut_metrics(*(torch.from_numpy(a) for a in (pred, label, bg, coobj)))
    assert m["id_acc"] == pytest.approx(0.95625)


def test_errors():
    pred, label, bg, coobj = _dataset(HAND)
    with pytest.raises(ValueError, match="same length"):
        shortcut_metrics(pred[:-1], label, bg, coobj)
    keep = ~((label == 1) & (bg == 0) & (coobj == 0))
    with pytest.raises(ValueError, match="empty group"):
        shortcut_metrics(pred[keep], label[keep], bg[keep], coobj[keep])
    with pytest.raises(ValueError, match="0 or 1"):
        shortcut_metrics(pred + 2, label, bg, coobj)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        shortcut_metrics(pred, label, bg, coobj, bg_ratio=1.2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        predictions_from_probabilities(np.array([[1.5, -0.5]]))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        predictions_from_probabilities(np.ones(3))
    assert predictions_from_probabilities(np.array([[0.2, 0.8], [0.9, 0.1]])).tolist() == [1, 0]


def test_rounding_overshoot_of_a_softmax_is_accepted():
    assert predictions_from_probabilities(np.array([[1 + 1e-7, -1e-8]])).tolist() == [0]


# ---------------------------------- numpy scalars and dtypes (issue 20): accepted or clear


def _all_groups():
    label = [0, 0, 0, 0, 1, 1, 1, 1]
    bg = [0, 0, 1, 1, 0, 0, 1, 1]
    co = [0, 1, 0, 1, 0, 1, 0, 1]
    return label, label, bg, co


def test_shortcut_metrics_accept_numpy_float_ratios():
    want = shortcut_metrics(*_all_groups(), bg_ratio=0.9, coobj_ratio=0.8)
    got = shortcut_metrics(*_all_groups(), bg_ratio=np.float32(0.9), coobj_ratio=np.float64(0.8))
    assert got == pytest.approx(want, abs=1e-6)


def test_shortcut_metrics_refuse_complex_input():
    pred, label, bg, co = _all_groups()
    with pytest.raises(TypeError, match="complex"):
        shortcut_metrics(np.array(pred, complex), label, bg, co)
    with pytest.raises(TypeError, match="complex"):
        predictions_from_probabilities(torch.ones(2, 2, dtype=torch.complex64) / 2)
