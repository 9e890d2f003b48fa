"""Results that never give a silently wrong answer or lose finished work (issue 20).

Each test reproduces one way the cache could answer wrongly or lose a computed result: a custom
config answered by a bigger profile's default, ``BOOK_RECOMPUTE`` spellings, two processes on
one key, an unwritable results folder found only after computing, unreadable or re-sealed
files, edited provenance, results of older code, path parts that leave the results folder.
"""

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import helpers
from helpers import results, run
from helpers.profiles import get_profile


from results_fixtures import Counter, tmp_results  # noqa: F401  (tests/results_fixtures.py)


def _compute_smoke(compute=None):
    compute = compute or Counter()
    return compute, results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)


# ----------------------------------------------------------------- 1. the caller's full config


def test_a_custom_config_is_never_answered_by_a_bigger_profiles_default():
    results.load_or_compute("puzzle", Counter(value=0.9), profile="paper", verbose=False)
    custom = replace(get_profile("cpu").config("puzzle"), epochs=5)
    local = Counter(value=0.5)
    shown = results.load_or_compute("puzzle", local, profile="cpu", config=custom, verbose=False)
    assert local.calls == 1, "the paper result (another config) answered a custom config"
    assert shown.provenance["profile"] == "cpu" and shown.config["epochs"] == 5
    assert shown.payload["epochs"] == 5
    assert results.load_stored("puzzle", profile="cpu", config=custom).payload["acc"][0] == 0.5
    # the chapter's own call (no config, or its profile's default) still shows the paper run
    assert results.load_stored("puzzle", profile="cpu").provenance["profile"] == "paper"
    default = get_profile("cpu").config("puzzle")
    assert results.load_stored("puzzle", profile="cpu",
                               config=default).provenance["profile"] == "paper"


# ----------------------------------------------------------------------- 2. BOOK_RECOMPUTE


@pytest.mark.parametrize("word", ["", "0", " 0", "false", "False", "no", "off", "OFF", "n"])
def test_recompute_off_spellings_use_the_stored_result(monkeypatch, word):
    compute, _ = _compute_smoke()
    monkeypatch.setenv("BOOK_RECOMPUTE", word)
    again = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 1 and again.loaded


@pytest.mark.parametrize("word", ["1", "true", "TRUE", " yes ", "on", "y"])
def test_recompute_on_spellings_recompute(monkeypatch, word):
    compute, _ = _compute_smoke()
    monkeypatch.setenv("BOOK_RECOMPUTE", word)
    results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 2


@pytest.mark.parametrize("word", ["maybe", "2", "yess", "-1"])
def test_recompute_other_values_are_an_error_before_computing(monkeypatch, word):
    monkeypatch.setenv("BOOK_RECOMPUTE", word)
    compute = Counter()
    with pytest.raises(ValueError, match="BOOK_RECOMPUTE") as err:
        results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 0 and repr(word) in str(err.value) and "1" in str(err.value)


# ------------------------------------------------------------------- 3. concurrent processes

def _worker(ready, go, out, seconds, damage_every):
    """Save, load (and every ``damage_every`` saves damage) one result for ``seconds``."""
    import traceback
    import warnings

    warnings.simplefilter("ignore")  # the quarantine warnings; failures are exceptions
    compute = lambda cfg, seed: {"acc": [0.5, 0.25]}  # noqa: E731
    saves = loads = damaged = 0
    try:
        os.environ["BOOK_RECOMPUTE"] = "1"  # warm up (imports, provenance) on another seed
        results.load_or_compute("puzzle", compute, profile="smoke", seed=7 + damage_every,
                                verbose=False)
        ready.release()
        go.wait()
        stop = time.time() + seconds
        while time.time() < stop:
            os.environ["BOOK_RECOMPUTE"] = "1"  # compute and save, every time
            saved = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
            saves += 1
            if damage_every and saves % damage_every == 0:  # damage the file in place
                with open(saved.path, "w") as f:
                    f.write('{"key": "trunc')
                damaged += 1
            os.environ["BOOK_RECOMPUTE"] = "0"
            found = results.load_stored("puzzle", profile="smoke")  # may quarantine
            loads += 1
            if found is not None and found.payload != {"acc": [0.5, 0.25]}:
                raise AssertionError(f"wrong payload {found.payload}")
        out.put({"saves": saves, "loads": loads, "damaged": damaged})
    except BaseException:
        out.put({"error": traceback.format_exc(), "saves": saves})


def test_two_processes_saving_loading_and_quarantining_one_key_never_fail(tmp_results):
    """Two processes save and load the same result (one also damages it) for 1.5 s at once."""
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    # what the first save imports and asks git for, done once here for both forked workers
    results.load_or_compute("puzzle", lambda cfg, seed: {}, profile="smoke", seed=99,
                            verbose=False)
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(ready, go, out, 1.5, every)) for every in (0, 5)]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=60), "a worker did not start"
    go.set()  # both start their loops together
    counts = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [c["error"] for c in counts if "error" in c]
    assert not errors, errors[0]
    assert all(c["saves"] >= 10 for c in counts), counts  # they did overlap for a while
    folder = tmp_results / "puzzle"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # no temp left
    assert len(list(folder.glob("*.corrupt-*"))) <= sum(c["damaged"] for c in counts)


# ------------------------------------------------------- 4. an unwritable folder, found first


def test_a_results_folder_that_is_a_file_is_refused_before_computing(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(blocker))
    compute = Counter()
    with pytest.raises(OSError, match="BOOK_RESULTS_DIR") as err:
        results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 0 and str(blocker) in str(err.value)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a read-only /proc")
def test_a_read_only_results_folder_is_refused_before_computing(monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", "/proc/book-results")  # read-only even for root
    compute = Counter()
    with pytest.raises(OSError, match="writable"):
        results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 0


# ------------------------------------------------- 5. unreadable files: bytes, JSON, schema


def _reseal(path: Path, edit) -> None:
    """Edit a stored document and give it a valid checksum again, as other code could write it."""
    doc = json.loads(path.read_text())
    edit(doc)
    doc["sha256"] = results._document_sha256(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage", [
    "non_utf8", "not_a_dict", "provenance_string", "no_wall_time", "negative_wall_time",
    "seed_string", "profile_edited_resealed", "old_format", "config_edited_resealed"])
def test_any_unreadable_file_is_quarantined_and_recomputed(tmp_results, damage, capsys):
    compute, first = _compute_smoke()
    path = first.path
    if damage == "non_utf8":
        raw = path.read_bytes()
        path.write_bytes(raw[:40] + b"\xff\xfe" + raw[40:])
    elif damage == "not_a_dict":
        path.write_text("[1, 2, 3]")
    elif damage == "old_format":  # the format before issue 20: no whole-document checksum
        doc = json.loads(path.read_text())
        del doc["sha256"], doc["format"]
        path.write_text(json.dumps(doc))
    else:
        edits = {
            "provenance_string": lambda d: d.update(provenance="smoke run"),
            "no_wall_time": lambda d: d["provenance"].pop("wall_time_s"),
            "negative_wall_time": lambda d: d["provenance"].update(wall_time_s=-3.0),
            "seed_string": lambda d: d["provenance"].update(seed="0"),
            "profile_edited_resealed": lambda d: d["provenance"].update(profile="paper"),
            "config_edited_resealed": lambda d: d["config"].update(epochs=400),
        }
        _reseal(path, edits[damage])
    assert run.main(["--list", "--profile", "smoke"]) == 0
    listed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("puzzle"))
    assert "damaged" in listed, listed  # --list does not call it "computed"
    with pytest.warns(RuntimeWarning, match="recomputing"):
        again = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 2 and not again.loaded and again.payload["acc"] == [1.5, 0.25]
    assert len(list(path.parent.glob(path.name + ".corrupt-*"))) == 1
    assert run.main(["--list", "--profile", "smoke"]) == 0
    listed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("puzzle"))
    assert "computed" in listed and "1 damaged copy moved aside" in listed, listed


@pytest.mark.parametrize("field,value", [("profile", "paper"), ("data_source", "cifar10"),
                                         ("device", "NVIDIA H100"), ("git_commit", "abc")])
def test_edited_provenance_fails_the_checksum(tmp_results, field, value):
    compute, first = _compute_smoke()
    doc = json.loads(first.path.read_text())
    doc["provenance"][field] = value  # an edit without re-sealing: caught by the checksum
    first.path.write_text(json.dumps(doc))
    with pytest.warns(RuntimeWarning, match="sha256"):
        again = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 2 and again.provenance[field] != value


def test_damaged_copies_never_overwrite_each_other(tmp_results):
    compute, first = _compute_smoke()
    for _ in range(3):  # three damaged files within one second
        first.path.write_text("<html>oops</html>")
        with pytest.warns(RuntimeWarning, match="recomputing"):
            results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 4
    assert len(list(first.path.parent.glob(first.path.name + ".corrupt-*"))) == 3


# ----------------------------------------------------------- 6. results of an older version


def _computed_by_older_code(monkeypatch, profile):
    monkeypatch.setattr(helpers, "__version__", "0.0.1-old")
    old = results.load_or_compute("puzzle", Counter(value=0.9), profile=profile, verbose=False)
    monkeypatch.undo()
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(old.path.parents[1]))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)
    assert old.provenance["versions"]["helpers"] == "0.0.1-old"
    return old


def test_an_own_profile_result_of_older_code_is_recomputed(monkeypatch, capsys):
    old = _computed_by_older_code(monkeypatch, "smoke")
    assert run.main(["--list", "--profile", "smoke"]) == 0
    listed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("puzzle"))
    assert "stale" in listed and "0.0.1-old" in listed, listed
    assert results.load_stored("puzzle", profile="smoke") is None
    compute = Counter(value=0.5)
    fresh = results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 1 and fresh.payload["acc"][0] == 0.5 and fresh.stale is None
    assert fresh.path == old.path  # the old file is replaced only once the new one is saved
    assert run.main(["puzzle", "--profile", "smoke", "--no-progress"]) == 0
    assert "summary: puzzle skipped" in capsys.readouterr().out


def test_a_committed_result_of_older_code_is_shown_only_with_a_visible_note(monkeypatch, capsys):
    _computed_by_older_code(monkeypatch, "paper")
    local = Counter(value=0.5)
    shown = results.load_or_compute("puzzle", local, profile="cpu")
    out = capsys.readouterr().out
    assert local.calls == 0 and shown.provenance["profile"] == "paper"
    assert shown.stale and "older version" in out and "0.0.1-old" in out
    assert "older version" in shown.describe()  # every caption says so
    assert run.main(["--list", "--profile", "paper"]) == 0
    listed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("puzzle"))
    assert "stale" in listed, listed
    # a current result of the reader's own profile beats a stale bigger one
    results.load_or_compute("puzzle", local, profile="cpu", use_committed=False, verbose=False)
    assert results.load_stored("puzzle", profile="cpu").provenance["profile"] == "cpu"


def test_a_declared_experiment_code_version_is_recorded_and_compared(monkeypatch):
    from helpers.experiments import puzzle

    monkeypatch.setattr(puzzle, "CODE_VERSION", 1, raising=False)
    compute, first = _compute_smoke()
    assert "puzzle v1" in first.provenance["code_version"]
    monkeypatch.setattr(puzzle, "CODE_VERSION", 2)
    assert results.load_stored("puzzle", profile="smoke") is None
    results.load_or_compute("puzzle", compute, profile="smoke", verbose=False)
    assert compute.calls == 2


# ------------------------------------------------------------------------ 7. path parts


@pytest.mark.parametrize("data_source", ["../escape", "a/b", "..", "", ".hidden", "x\\y", 3])
def test_data_source_that_is_not_a_plain_name_is_refused(tmp_results, data_source):
    compute = Counter()
    with pytest.raises((ValueError, TypeError), match="data_source"):
        results.load_or_compute("puzzle", compute, profile="smoke", data_source=data_source,
                                verbose=False)
    assert compute.calls == 0
    assert not any(tmp_results.parent.glob("escape*"))


@pytest.mark.parametrize("seed", [-1, True, "0", 1.5, "../0"])
def test_seed_that_is_not_a_non_negative_int_is_refused(seed):
    compute = Counter()
    with pytest.raises((ValueError, TypeError), match="seed"):
        results.load_or_compute("puzzle", compute, profile="smoke", seed=seed, verbose=False)
    assert compute.calls == 0


def test_a_numpy_integer_seed_is_the_same_result_as_the_int():
    compute, first = _compute_smoke()
    again = results.load_or_compute("puzzle", compute, profile="smoke", seed=np.int64(0),
                                    verbose=False)
    assert compute.calls == 1 and again.path == first.path


def test_experiment_name_that_is_not_a_plain_name_is_refused():
    with pytest.raises(ValueError, match="experiment"):
        results.result_path("../puzzle", "smoke", "shapes", 0, {})
