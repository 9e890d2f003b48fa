"""`make full` (python -m helpers.run): computes through load_or_compute, skips what is done,
skips chapters that do not exist yet, and refuses unknown names."""

import pytest

from helpers import run
from helpers.profiles import get_profile


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)
    return tmp_path


def test_second_call_skips_the_computed_result(results, capsys):
    assert run.main(["puzzle", "--profile", "smoke", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "computed in" in out and "summary: puzzle computed" in out
    files = list((results / "puzzle").glob("smoke-*.json"))
    assert len(files) == 1
    assert not (results / "puzzle" / "checkpoints").exists() or \
        not any((results / "puzzle" / "checkpoints").iterdir())  # removed once saved
    before = files[0].stat().st_mtime_ns
    assert run.main(["puzzle", "--profile", "smoke", "--no-progress"]) == 0
    assert "summary: puzzle skipped" in capsys.readouterr().out
    assert files[0].stat().st_mtime_ns == before  # not rewritten


def test_the_result_is_the_one_the_chapter_loads(results):
    from helpers.experiments import puzzle
    from helpers.results import load_or_compute

    assert run.run_one("puzzle", get_profile("smoke"), progress=False) == "computed"
    loaded = load_or_compute("puzzle", puzzle.run, profile="smoke", seed=0)  # as Chapter 1 calls it
    assert loaded.loaded


def test_interrupted_training_resumes_from_its_checkpoint(results, monkeypatch):
    """A run killed after its first epoch restarts at the second, with the same numbers."""
    from helpers.experiments import puzzle

    profile = get_profile("smoke")
    cfg = profile.config("puzzle")
    ckpt = run.checkpoint_dir("puzzle", profile, cfg, 0)
    straight = puzzle.run(cfg, 0, progress=False)
    puzzle.run(profile.config("puzzle", epochs=1), 0, progress=False, checkpoint_dir=ckpt)
    assert (ckpt / "seed0.pt").exists()  # what an interruption after epoch 1 leaves behind
    resumed = puzzle.run(cfg, 0, progress=False, checkpoint_dir=ckpt)
    assert resumed["loss"][0] == pytest.approx(straight["loss"][0], rel=1e-6)


def test_missing_chapter_is_skipped_with_a_message(results, monkeypatch, capsys):
    monkeypatch.setitem(run.REGISTRY, "future", run.Entry("9 Future", "helpers.experiments.no_such_module:run"))
    assert run.run_one("future", get_profile("smoke")) == "unavailable"
    assert "does not exist yet" in capsys.readouterr().out
    monkeypatch.setitem(run.REGISTRY, "nofunc", run.Entry("9", "helpers.experiments.puzzle:no_such"))
    assert run.run_one("nofunc", get_profile("smoke")) == "unavailable"
    monkeypatch.setitem(run.REGISTRY, "noconf", run.Entry("9", "helpers.experiments.puzzle:run"))
    assert run.run_one("noconf", get_profile("smoke")) == "unavailable"
    assert "no 'noconf' config" in capsys.readouterr().out


def _chapter_experiments() -> set[str]:
    """Every experiment name a chapter passes to load_or_compute."""
    import re
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "book"
    return {name for nb in book.glob("[0-9]*.ipynb")
            for name in re.findall(r'load_or_compute\(\\"(\w+)\\"', nb.read_text())}


def test_registry_lists_every_chapter_experiment(results, capsys):
    names = _chapter_experiments()
    assert {"puzzle", "expansion", "shortcuts"} <= names  # the parser finds them
    for name in names:
        assert name in run.REGISTRY, f"{name} is loaded by a chapter; add it to helpers.run.REGISTRY"
        compute, cfg = run.resolve(name, get_profile("paper"))
        assert callable(compute) and cfg == get_profile("paper").config(name)
    assert run.main(["--list", "--profile", "smoke"]) == 0
    assert "puzzle" in capsys.readouterr().out


def test_unknown_experiment_is_an_error(results):
    with pytest.raises(SystemExit):
        run.main(["no-such-chapter", "--profile", "smoke"])
    with pytest.raises(ValueError, match="registered"):
        run.resolve("no-such-chapter", get_profile("smoke"))
    with pytest.raises(SystemExit):
        run.main(["--profile", "smoke"])  # nothing named
