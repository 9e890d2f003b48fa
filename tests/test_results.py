"""Results cache: load when matching, recompute when not, never trust a damaged file."""

import json

import numpy as np
import pytest

from helpers import results
from helpers.profiles import get_profile


from results_fixtures import Counter, tmp_results  # noqa: F401  (tests/results_fixtures.py)


def test_compute_then_load_same_payload():
    compute = Counter()
    first = results.load_or_compute("puzzle", compute, profile="smoke", seed=3, verbose=False)
    second = results.load_or_compute("puzzle", compute, profile="smoke", seed=3, verbose=False)
    assert compute.calls == 1
    assert not first.loaded and second.loaded
    assert first.payload == second.payload == {"acc": [1.5, 0.25], "seed": 3, "epochs": 2}
    prov = second.provenance
    for field in ("profile", "data_source", "device", "seed", "versions", "git_commit",
                  "wall_time_s", "date_utc"):
        assert field in prov
    assert prov["profile"] == "smoke" and prov["seed"] == 3 and "torch" in prov["versions"]


def test_different_seed_or_config_recomputes():
    compute = Counter()
    results.load_or_compute("puzzle", compute, profile="smoke", seed=0, verbose=False)
    results.load_or_compute("puzzle", compute, profile="smoke", seed=1, verbose=False)
    cfg = get_profile("smoke").config("puzzle", epochs=5)
    results.load_or_compute("puzzle", compute, profile="smoke", config=cfg, verbose=False)
    assert compute.calls == 3


def test_recompute_env_ignores_cache(monkeypatch):
    compute = Counter()
    results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    monkeypatch.setenv("BOOK_RECOMPUTE", "1")
    results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 2


@pytest.mark.parametrize("damage", ["truncate", "edit_payload", "wrong_key", "not_json"])
def test_damaged_file_is_quarantined_and_recomputed(tmp_results, damage):
    compute = Counter()
    res = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    path = res.path
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "not_json":
        path.write_text("<html>oops</html>")
    else:
        doc = json.loads(text)
        if damage == "edit_payload":
            doc["payload"]["acc"][0] = 0.99  # a hand-typed number must not survive
        else:
            doc["key"] = "0" * 16
        path.write_text(json.dumps(doc))
    with pytest.warns(RuntimeWarning, match="recomputing"):
        again = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 2 and again.payload["acc"] == [1.5, 0.25]
    assert list(path.parent.glob("*.corrupt-*")), "the damaged file is kept for inspection"


def test_committed_bigger_result_is_preferred_outside_smoke():
    paper = Counter(value=0.9)
    results.load_or_compute("puzzle", paper, profile="paper", verbose=False)
    local = Counter(value=0.5)
    shown = results.load_or_compute("puzzle", local, profile="cpu", verbose=False)
    assert local.calls == 0 and shown.provenance["profile"] == "paper"
    # smoke tests the code: it never substitutes a bigger result
    results.load_or_compute("puzzle", local, profile="smoke", verbose=False)
    assert local.calls == 1


def test_a_named_data_source_is_looked_up_under_that_source_in_bigger_profiles():
    # one experiment, two results: the image run and a synthetic sweep (Chapter 8's pattern)
    results.load_or_compute("puzzle", Counter(value=0.9), profile="paper", verbose=False)
    sweep = Counter(value=0.3)
    shown = results.load_or_compute("puzzle", sweep, profile="cpu", data_source="synthetic",
                                    verbose=False)
    assert sweep.calls == 1 and shown.provenance["data_source"] == "synthetic"  # not the image run
    big_sweep = Counter(value=0.7)
    results.load_or_compute("puzzle", big_sweep, profile="paper", data_source="synthetic",
                            verbose=False)
    shown = results.load_or_compute("puzzle", Counter(), profile="cpu", data_source="synthetic",
                                    verbose=False)
    assert shown.provenance["profile"] == "paper" and shown.payload["acc"][0] == 0.7


def test_load_result_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        results.load_result(tmp_path / "missing.json", "k")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(results.CorruptResultError, match="not a valid result"):
        results.load_result(bad, "k")


def test_non_finite_numbers_become_null():
    assert results.to_jsonable({"a": float("nan"), "b": np.float32(2.0)}) == {"a": None, "b": 2.0}
