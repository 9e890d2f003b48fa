"""What the results tests share (tests/test_results.py, tests/test_results_robust.py): an empty
results folder per test, and a compute function that counts its calls."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def tmp_results(tmp_path, monkeypatch):
    """Each test gets its own empty results folder; BOOK_RECOMPUTE unset."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)
    return tmp_path


class Counter:
    """A stand-in ``compute(cfg, seed)`` that counts how often it really ran."""

    def __init__(self, value=1.5):
        self.calls, self.value = 0, value

    def __call__(self, cfg, seed):
        self.calls += 1
        return {"acc": np.array([self.value, 0.25]), "seed": seed, "epochs": cfg.epochs}
