"""`make full` (python -m helpers.run): computes through load_or_compute, skips what is done,
skips chapters that do not exist yet, and refuses unknown names."""

import dataclasses

import pytest
import torch

from helpers import evidence as ev
from helpers import experiments, run
from helpers.experiments import Experiment
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
    """A run killed after its first epoch restarts at the second, with the same numbers: Chapter
    1's networks file is the training engine's checkpoint (helpers.train)."""
    from helpers.experiments import puzzle

    cfg = get_profile("smoke").config("puzzle")
    straight = puzzle.run(cfg, 0, progress=False)
    path = puzzle.networks_path(cfg, [0])
    assert path.exists()
    path.unlink()

    class Killed(Exception):
        pass

    def kill_after_first_epoch(epoch):
        raise Killed

    engine = puzzle.train
    monkeypatch.setattr(puzzle, "train", lambda *a, **kw: engine(
        *a, **{**kw, "on_epoch_end": kill_after_first_epoch}))
    with pytest.raises(Killed):
        puzzle.run(cfg, 0, progress=False)
    assert torch.load(path, weights_only=True)["epoch"] == 1  # what the interruption left
    monkeypatch.setattr(puzzle, "train", engine)
    resumed = puzzle.run(cfg, 0, progress=False)
    assert resumed["loss"][0] == pytest.approx(straight["loss"][0], rel=1e-6)
    assert resumed["accuracy"][0] == pytest.approx(straight["accuracy"][0], abs=1e-6)


def _register(monkeypatch, *entries):
    monkeypatch.setattr(experiments, "EXPERIMENTS", experiments.EXPERIMENTS + entries)


def test_missing_chapter_is_skipped_with_a_message(results, monkeypatch, capsys):
    _register(monkeypatch, Experiment("future", "9 Future", "helpers.experiments.no_such_module"),
              Experiment("nofunc", "9", "helpers.experiments.shortcut_report"),
              Experiment("noconf", "9", "helpers.experiments.reweighting_report"))
    assert run.run_one("future", get_profile("smoke")) == "unavailable"
    assert "does not exist yet" in capsys.readouterr().out
    assert run.run_one("nofunc", get_profile("smoke")) == "unavailable"
    assert "has no function run" in capsys.readouterr().out
    monkeypatch.setattr("helpers.experiments.reweighting_report.run", lambda cfg, seed: {},
                        raising=False)
    assert run.run_one("noconf", get_profile("smoke")) == "unavailable"
    assert "reweighting_report has no 'smoke' config" in capsys.readouterr().out
    assert run.main(["--list", "--profile", "smoke"]) == 0  # listed, not fatal
    assert "future" in capsys.readouterr().out


FAKE_MODULE = '''
from dataclasses import dataclass


@dataclass(frozen=True)
class FakeConfig:
    data: str
    n: int  # samples
    steps: int
    names: tuple


CONFIGS = {"smoke": FakeConfig("toy-data", 2, 5, ("a", "b")),
           "cpu": FakeConfig("toy-data", 20, 5, ("a", "b")),
           "gpu": FakeConfig("toy-data", 200, 5, ("alpha-long-name", "beta-long-name")),
           "paper": FakeConfig("toy-data", 2000, 5, ("alpha-long-name",))}


def cost(cfg):
    return cfg.n / 100


def run(cfg, seed):
    return {"total": cfg.n + seed}
'''


@pytest.fixture
def fake_chapter(tmp_path, monkeypatch):
    """A new chapter as a contributor adds it: one module (here on sys.path) + one registry line."""
    (tmp_path / "fake_chapter_module.py").write_text(FAKE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    _register(monkeypatch, Experiment("fake", "9 A new chapter", "fake_chapter_module"))
    return "fake"


def test_a_new_chapter_is_one_module_and_one_line(results, fake_chapter, capsys, monkeypatch):
    from helpers import budget, guide

    assert get_profile("cpu").config("fake").n == 20  # the profiles lookup
    assert budget.full_epochs("fake", get_profile("paper").config("fake")) == 20  # the budget
    assert run.main(["fake", "--profile", "smoke", "--no-progress"]) == 0
    assert "summary: fake computed" in capsys.readouterr().out
    assert "fake" not in {s.name for s in ev.experiment_sources() if getattr(s.module, "CLAIMS", ())}
    calls = []
    monkeypatch.setattr(run, "run_one", lambda name, profile, progress: calls.append(name) or "ok")
    assert run.main(["all", "--profile", "smoke"]) == 0  # make full: in book order, the new one last
    assert calls == experiments.names() and calls[-1] == "fake"


def test_list_prints_every_size_knob_per_profile(results, fake_chapter, capsys):
    assert run.main(["fake", "--profile", "smoke", "--no-progress"]) == 0
    capsys.readouterr()
    assert run.main(["--list", "--profile", "cpu"]) == 0
    out = capsys.readouterr().out
    for entry in experiments.EXPERIMENTS:
        assert f"{entry.name:<18} {entry.chapter}" in out, entry.name
    table = run.size_table("fake")
    lines = table.splitlines()
    assert lines[0].split() == ["smoke", "cpu", "gpu", "paper"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if not line.startswith(" ")}
    assert rows["result"] == ["computed", "to", "compute", "to", "compute", "to", "compute"]
    assert rows["full"] == ["epochs", "0.02", "0.2", "2", "20"]
    assert rows["n"] == ["2", "20", "200", "2000"]  # a knob that differs: one column a profile
    assert "steps" not in rows and "same at every profile: data toy-data, steps 5" in table
    assert rows["names"] == ["(a,", "b)", "(a,", "b)", "see", "below", "(alpha-long-name,)"]
    assert "names: smoke/cpu (a, b); gpu (alpha-long-name, beta-long-name); paper" in table
    assert "fake               9 A new chapter" in out and "to compute" in out
    # the real experiments' tables: every knob of every experiment is printed somewhere
    for entry in experiments.EXPERIMENTS[:-1]:
        text = run.size_table(entry.name)
        for field in dataclasses.fields(get_profile("cpu").config(entry.name)):
            assert field.name in text, f"{entry.name}.{field.name} missing from --list"


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
        assert name in experiments.names(), (f"{name} is loaded by a chapter; add it to "
                                             "helpers.experiments.EXPERIMENTS")
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
