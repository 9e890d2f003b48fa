"""Chapter 1's experiment: payload shape at a tiny size, its claims and its structure check."""

import numpy as np
import pytest
import torch

from helpers import evidence as ev

from helpers.experiments import puzzle
from helpers.profiles import get_profile


TINY = dict(n_train=64, n_test=64, width=2, head_hidden=16, head_out=8, epochs=1, batch_size=32,
            n_seeds=2)


def test_run_payload_has_every_layer_seed_and_network_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    cfg = get_profile("smoke").config("puzzle", **TINY)
    payload = puzzle.run(cfg, seed=0, progress=False)
    assert payload["layers"] == list(puzzle.LAYERS) and payload["seeds"] == [0, 1]
    assert np.asarray(payload["accuracy"]).shape == (2, len(puzzle.LAYERS))
    assert np.asarray(payload["untrained"]).shape == (2, len(puzzle.LAYERS))
    assert payload["no_head_layers"] == ["stage1", "stage2", "stage3", "h"]
    assert np.asarray(payload["no_head_accuracy"]).shape == (2, 4)
    for key in ("accuracy", "untrained", "no_head_accuracy"):
        assert all(0 <= a <= 1 for run in payload[key] for a in run)
    assert len(payload["loss"]) == 2 and len(payload["loss"][0]) == 1
    assert len(payload["no_head_loss"]) == 2
    assert payload["chance"] == pytest.approx(0.1)
    # the claims and the structure check read this payload
    assert set(ev.evaluate(puzzle, payload)) == {"ch1-h-beats-z", "ch1-head-helps-h"}
    assert len(ev.check_structure(puzzle, payload, enforce=False)) == 1


def test_untrained_floor_is_each_seeds_own_initialisation():
    """The structure check pairs a trained network with its own starting point."""
    cfg = get_profile("smoke").config("puzzle", **TINY)
    a, b = puzzle.initial_networks(cfg, [3, 4])
    again = puzzle.initial_networks(cfg, [3])[0]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), again.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    bare = puzzle.initial_networks(cfg, [3], head=False)[0]
    for p, q in zip(a.encoder.parameters(), bare.encoder.parameters()):
        assert torch.equal(p, q)  # same encoder with and without the head


def _payload(h, z, bare_h, floor_h):
    """A payload with per-seed accuracies (fractions) at h, z, no-head h and untrained h."""
    n = len(h)
    acc = [[0.2, 0.3, 0.4, h[k], 0.5, z[k]] for k in range(n)]
    return {"layers": list(puzzle.LAYERS), "accuracy": acc,
            "no_head_layers": list(puzzle.NO_HEAD_LAYERS),
            "no_head_accuracy": [[0.2, 0.3, 0.4, bare_h[k]] for k in range(n)],
            "untrained": [[0.3, 0.3, 0.3, floor_h[k], 0.3, 0.3] for k in range(n)]}


def test_claims_are_paired_by_seed_and_graded_by_the_interval():
    payload = _payload(h=[0.60, 0.62, 0.58, 0.61, 0.59], z=[0.50, 0.53, 0.47, 0.52, 0.48],
                       bare_h=[0.61, 0.60, 0.59, 0.62, 0.58], floor_h=[0.3] * 5)
    found = ev.evaluate(puzzle, payload)
    hz = found["ch1-h-beats-z"]
    assert hz.effect == pytest.approx(10.0) and hz.n_seeds == 5
    assert ev.verdict(puzzle.CLAIMS[0], hz) == ev.SUPPORTED
    assert ev.verdict(puzzle.CLAIMS[1], found["ch1-head-helps-h"]) == ev.INCONCLUSIVE
    worse = _payload(h=[0.5] * 2 + [0.51] * 3, z=[0.6, 0.61, 0.6, 0.62, 0.6], bare_h=[0.6] * 5,
                     floor_h=[0.3] * 5)
    assert ev.verdict(puzzle.CLAIMS[0], ev.evaluate(puzzle, worse)["ch1-h-beats-z"]) \
        == ev.CONTRADICTED


def test_structure_check_fails_loudly_when_pretraining_learned_nothing():
    learned = _payload(h=[0.6, 0.62, 0.58], z=[0.5] * 3, bare_h=[0.5] * 3, floor_h=[0.36, 0.37, 0.35])
    assert "passed" in ev.check_structure(puzzle, learned)[0]
    # Issue 16's measured case: 38.3 % after SimCLR against 36.2 % before is no clear margin
    barely = _payload(h=[0.383, 0.40, 0.37], z=[0.3] * 3, bare_h=[0.3] * 3,
                      floor_h=[0.362, 0.37, 0.36])
    with pytest.raises(ev.StandInError, match="pre-training beats the untrained network at h"):
        ev.check_structure(puzzle, barely)
    assert "FAILED" in ev.check_structure(puzzle, barely, enforce=False)[0]
    one_seed = _payload(h=[0.6], z=[0.5], bare_h=[0.5], floor_h=[0.59])
    assert "not checked" in ev.check_structure(puzzle, one_seed)[0]  # smoke: reported only


def test_trained_networks_are_kept_and_loaded_not_retrained(tmp_path, monkeypatch):
    """Chapter 4 asks for Chapter 1's networks: the second call loads them (0 epochs run)."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    cfg = get_profile("smoke").config("puzzle", **TINY)
    nets, hist = puzzle.trained_networks(cfg, seed=0, progress=False)
    again, hist2 = puzzle.trained_networks(cfg, seed=0, progress=False)
    assert [h["epochs_run"] for h in hist] == [1, 1] and [h["epochs_run"] for h in hist2] == [0, 0]
    assert [h["loss"] for h in hist] == [h["loss"] for h in hist2]
    for a, b in zip(nets, again):
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)
    assert puzzle.networks_path(cfg, [0, 1]) != puzzle.networks_path(
        get_profile("smoke").config("puzzle", **{**TINY, "epochs": 2}), [0, 1])
