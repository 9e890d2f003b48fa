"""Chapter 1's experiment: payload shape at a tiny size, and the computed verdict."""

import pytest
import torch

from helpers.experiments import puzzle
from helpers.profiles import get_profile


TINY = dict(n_train=64, n_test=64, width=2, head_hidden=16, head_out=8, epochs=1, batch_size=32,
            n_seeds=2)


def test_run_payload_has_every_layer_and_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    cfg = get_profile("smoke").config("puzzle", **TINY)
    payload = puzzle.run(cfg, seed=0, progress=False)
    assert payload["layers"] == list(puzzle.LAYERS)
    assert len(payload["accuracy"]) == 2 and all(len(r) == len(puzzle.LAYERS) for r in payload["accuracy"])
    assert all(0 <= a <= 1 for run in payload["accuracy"] for a in run)
    assert len(payload["loss"]) == 2 and len(payload["loss"][0]) == 1
    assert payload["chance"] == pytest.approx(0.1)


def test_summarize_states_the_gap_per_seed():
    payload = {"layers": list(puzzle.LAYERS),
               "accuracy": [[0.3, 0.4, 0.5, 0.6, 0.55, 0.45], [0.3, 0.4, 0.5, 0.4, 0.45, 0.5]],
               "untrained": [0.5, 0.4, 0.3, 0.2, 0.2, 0.2]}
    text = puzzle.summarize(payload)
    assert "h - z = +15.0 points" in text and "h - z = -10.0 points" in text
    assert "h beats z in 1 of 2 run(s); mean gap +2.5 points" in text
    assert "best untrained layer: stage1 50.0 %" in text


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
