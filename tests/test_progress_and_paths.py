"""Progress bars are text in the book's build and live widgets elsewhere; chapters print result
paths relative to the results folder, never the build machine's absolute path."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import results, runtime

ROOT = Path(__file__).resolve().parents[1]


def bar_class(mode: str | None) -> str:
    """The class ``from tqdm.auto import tqdm`` gives a chapter module, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != runtime.ENV_PROGRESS}
    env["PYTHONPATH"] = str(ROOT)
    if mode is not None:
        env[runtime.ENV_PROGRESS] = mode
    code = ("import helpers.experiments.expansion as e, tqdm.std; "
            "print(e.tqdm.__module__, e.tqdm.__name__, issubclass(e.tqdm, tqdm.std.tqdm))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_build_mode_gives_text_bars_and_default_keeps_tqdm_auto():
    assert bar_class("text") == "helpers.runtime TextBar True"
    module, name, is_tqdm = bar_class(None).split()  # tqdm.auto's: widgets in a Jupyter kernel
    assert module.startswith("tqdm.") and name != "TextBar" and is_tqdm == "True"


def test_text_bar_writes_text_and_a_bad_mode_is_refused(monkeypatch):
    buf = io.StringIO()
    for _ in runtime.TextBar(range(300), file=buf, desc="steps", mininterval=0, miniters=1):
        pass
    text = buf.getvalue()  # written once, at the end: one line, no intermediate state
    assert text.count("steps") == 1 and "300/300" in text and text.endswith("\n"), repr(text)
    quiet = io.StringIO()
    with runtime.TextBar(total=5, file=quiet, leave=False, mininterval=0) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""  # a leave=False bar leaves nothing on the page
    monkeypatch.setenv(runtime.ENV_PROGRESS, "widgets")
    with pytest.raises(ValueError, match="BOOK_PROGRESS='widgets'"):
        runtime.progress_mode()


def test_display_path_is_relative_to_the_results_folder(tmp_path, monkeypatch):
    folder = tmp_path / "deep" / "results"
    monkeypatch.setenv(results.ENV_DIR, str(folder))
    shown = results.display_path(folder / "puzzle" / "smoke-x.json")
    assert shown == "results/puzzle/smoke-x.json"
    assert str(tmp_path) not in results.display_path(tmp_path / "elsewhere" / "a.json")


def test_saved_and_loaded_messages_hold_no_absolute_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "results"))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)

    def compute(config, seed):
        return {"acc": [0.5, 0.25], "seed": seed}

    for _ in range(2):  # computed and saved, then loaded
        results.load_or_compute("puzzle", compute, profile="smoke", seed=0)
    out = capsys.readouterr().out
    assert "saved results/puzzle/" in out and "loaded results/puzzle/" in out
    assert str(tmp_path) not in out
