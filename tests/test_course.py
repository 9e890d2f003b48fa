"""The course kit: measured times (scripts/course.py, scripts/time_chapters.py) and objectives boxes."""

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "chapter.ipynb"
CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import course  # noqa: E402
import time_chapters  # noqa: E402

MACHINE = {"cpu": "Test CPU", "cores": 2, "gpu": None}


def measurement(chapter="01", profile="smoke", seconds=12.3, status="ok", machine=MACHINE, **kw):
    return {"chapter": chapter, "profile": profile, "seconds": seconds, "status": status,
            "date_utc": "2026-01-02T03:04:05+00:00", "git_commit": "abcdef0123456789",
            "machine": dict(machine), **kw}


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (0.4, "1 s"), (12.3, "12 s"), (59.6, "1 min 00 s"),
                                           (245, "4 min 05 s"), (3725, "1 h 02 min")])
def test_format_seconds(seconds, text):
    assert course.format_seconds(seconds) == text


@pytest.mark.parametrize("bad", [-1, float("nan")])
def test_format_seconds_refuses_nonsense(bad):
    with pytest.raises(ValueError, match="non-negative"):
        course.format_seconds(bad)


def test_load_timings_missing_is_empty_and_bad_files_are_refused(tmp_path):
    assert course.load_timings(tmp_path / "none.json") == {"measurements": []}
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        course.load_timings(bad)
    bad.write_text(json.dumps({"measurements": [{"chapter": "01"}]}))
    with pytest.raises(ValueError, match="lacks"):
        course.load_timings(bad)
    bad.write_text(json.dumps({"measurements": [measurement(profile="huge")]}))
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        course.load_timings(bad)


def test_a_remeasurement_replaces_the_old_one_and_another_machine_is_kept():
    record = {"measurements": []}
    course.add_measurement(record, measurement(seconds=10))
    course.add_measurement(record, measurement(seconds=20))
    assert [m["seconds"] for m in record["measurements"]] == [20]
    course.add_measurement(record, measurement(seconds=5, machine={**MACHINE, "gpu": "Test GPU"}))
    assert sorted(m["seconds"] for m in record["measurements"]) == [5, 20]
    with pytest.raises(ValueError, match="lacks"):
        course.add_measurement(record, {"chapter": "01"})


def test_time_table_says_not_measured_instead_of_guessing():
    record = {"measurements": [measurement(seconds=75, load_average_1min=[1.0, 2.5]),
                               measurement(profile="cpu", status="TimeoutError")]}
    table = course.time_table("01", record)
    lines = table.splitlines()
    assert len(lines) == 2 + len(course.PROFILES)
    assert "| `smoke` | 1 min 15 s | Test CPU, 2 cores | 2026-01-02, commit abcdef01; load 1.0-2.5 |" in table
    assert "did not finish (TimeoutError)" in table
    assert "| `gpu` | not measured yet |" in table and "| `paper` | not measured yet |" in table
    assert course.time_table("09", record).count(course.NOT_MEASURED) == len(course.PROFILES)
    assert "not measured yet" in course.book_table(["01", "09"], record).splitlines()[3]


def test_exercise_kinds_on_the_fixture():
    found = course.exercises(FIXTURE)
    assert [(e["label"], e["kind"]) for e in found] == [
        ("fx-ex-square", "code, auto-checked"), ("fx-ex-count", "written"),
        ("fx-ex-sum", "code, auto-checked"), ("fx-ex-why", "written")]
    assert found[0]["title"] == "Square a vector"


def test_only_chapters_in_the_table_of_contents_are_published(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    for name in ("01-a.ipynb", "02-b.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), book / name)
    assert list(course.published_chapters(book)) == ["01", "02"]  # no _toc.yml: every chapter
    (tmp_path / "_toc.yml").write_text("root: book/intro\nchapters:\n  - file: book/01-a\n")
    assert list(course.published_chapters(book)) == ["01"]


def test_generated_fragments_are_up_to_date():
    stale = [str(p.relative_to(ROOT)) for p in course.stale_fragments()]
    assert not stale, (f"generated page fragments are out of date: {stale}; run "
                       "`.venv/bin/python scripts/course.py` (after adding a chapter, an exercise, "
                       "or a measurement)")


def test_exercise_plan_lists_every_exercise_of_every_chapter():
    import make_student

    plan = (ROOT / "book" / "_data" / "exercises.md").read_text()
    for path in course.published_chapters().values():
        for label in make_student.exercise_labels(nbformat.read(path, as_version=4)):
            assert f"(`{label}`)" in plan, f"{label} of {path.name} missing from the exercise plan"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_with_objectives_and_measured_times(path):
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    fix = (f"book/{path.name}: put, right after the title cell, a markdown cell\n"
           "```{admonition} Learning objectives\n:class: tip\n\nAfter this chapter you can\n\n"
           "* ... (3 to 5 bullets)\n\n**Time to run this chapter**, measured with "
           "`scripts/time_chapters.py` ... (see {doc}`reproduce`) ...\n\n"
           f":::{{include}} _data/timings/{number}.md\n:::\n```\n"
           "then run `.venv/bin/python scripts/course.py` to create the time table.")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {int(number)}. "), fix
    box = nb.cells[1]
    assert box.cell_type == "markdown" and box.source.startswith("```{admonition} Learning objectives"), fix
    bullets = re.findall(r"^\* ", box.source, re.M)
    assert 3 <= len(bullets) <= 5, f"{path.name}: {len(bullets)} learning objectives; give 3 to 5. " + fix
    assert f":::{{include}} _data/timings/{number}.md" in box.source, fix
    assert (ROOT / "book" / "_data" / "timings" / f"{number}.md").exists(), fix
    assert "Learning objectives" not in nb.cells[0].source, f"{path.name}: objectives twice"


# --- the timing script, on a tiny book ----------------------------------------------------------

def tiny_book(tmp_path, source):
    book = tmp_path / "book"
    book.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 7. Tiny"),
                                         nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, book / "07-tiny.ipynb")
    return book


def test_time_chapters_records_provenance(tmp_path, monkeypatch):
    monkeypatch.delenv("BOOK_RESULTS_DIR", raising=False)
    book = tiny_book(tmp_path, "import os\nassert os.environ['BOOK_PROFILE'] == 'smoke'\n"
                               "assert os.listdir(os.environ['BOOK_RESULTS_DIR']) == []")
    out = tmp_path / "timings.json"
    assert time_chapters.main(["--profile", "smoke", "--book", str(book), "--out", str(out),
                               "--timeout", "120"]) == 0
    (m,) = course.load_timings(out)["measurements"]
    assert m["chapter"] == "07" and m["profile"] == "smoke" and m["status"] == "ok"
    assert 0 < m["seconds"] < 120 and m["used_cache"] is False
    assert m["machine"]["cores"] >= 1 and m["machine"]["cpu"] and len(m["load_average_1min"]) == 2
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", m["git_commit"])
    assert not (tmp_path / "_data").exists()  # fragments are only written for the real book
    assert "BOOK_RESULTS_DIR" not in os.environ  # the environment is restored


def test_time_chapters_records_a_failure_and_refuses_unknown_chapters(tmp_path):
    book = tiny_book(tmp_path, "raise RuntimeError('boom')")
    out = tmp_path / "timings.json"
    assert time_chapters.main(["--profile", "smoke", "--book", str(book), "--out", str(out),
                               "--timeout", "120"]) == 1
    (m,) = course.load_timings(out)["measurements"]
    assert m["status"] == "RuntimeError in a cell"
    with pytest.raises(SystemExit):
        time_chapters.main(["--profile", "smoke", "--book", str(book), "--out", str(out), "--chapters", "99"])
