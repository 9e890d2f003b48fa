"""The student edition: no solutions left, exercises kept, valid, runs to the first stub."""

import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "chapter.ipynb"
sys.path.insert(0, str(ROOT / "scripts"))
import make_student  # noqa: E402

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
NOT_IMPLEMENTED = ("NotImplementedError", "ExerciseNotImplementedError")


def first_error(nb, cwd, timeout=600):
    """Execute the cells in order; return (cell index, ename, evalue) of the first error, or None."""
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            try:
                client.execute_cell(cell, i)
            except CellExecutionError as err:
                return i, err.ename, err.evalue
    return None


def solution_only_text(nb):
    """Distinctive lines found only inside the instructor notebook's solutions.

    Walks the notebook independently of make_student (gated regions and {solution} blocks).
    """
    inside, outside, gated = set(), set(), False
    for cell in nb.cells:
        src = cell.source
        if make_student.SOL_START.search(src):
            gated = True
        elif make_student.SOL_END.search(src):
            gated = False
        elif gated:
            inside.update(src.splitlines())
        elif cell.cell_type == "markdown" and make_student.SOLUTION.search(src):
            cut = make_student.SOLUTION.search(src).start()
            outside.update(src[:cut].splitlines())
            inside.update(src[cut:].splitlines()[1:])
        else:
            outside.update(src.splitlines())
    outside = {ln.strip() for ln in outside}
    return {ln.strip() for ln in inside if len(ln.strip()) > 12 and ln.strip() not in outside
            and not ln.strip().startswith((":", "```"))}


def assert_student_copy(book_nb, student_nb):
    nbformat.validate(student_nb)
    assert "Student edition" in student_nb.cells[0].source
    assert make_student.exercise_labels(student_nb) == make_student.exercise_labels(book_nb)
    assert not make_student.solution_labels(student_nb)
    text = {ln.strip() for c in student_nb.cells for ln in c.source.splitlines()}
    distinctive = solution_only_text(book_nb)
    assert distinctive, "found no solution text to look for"
    leaked = sorted(distinctive & text)
    assert not leaked, f"solution text survives in the student edition: {leaked[:3]}"
    for cell in student_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_fixture_student_edition(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(FIXTURE, book / "00-fixture.ipynb")
    out = tmp_path / "student"
    assert make_student.main(["--book", str(book), "--out", str(out)]) == 0
    book_nb = nbformat.read(FIXTURE, as_version=4)
    student_nb = nbformat.read(out / "00-fixture.ipynb", as_version=4)
    assert_student_copy(book_nb, student_nb)
    text = "\n".join(c.source for c in student_nb.cells)
    for marker in ("SOLUTION-ONLY-MARKDOWN-1", "SOLUTION-ONLY-CODE-1", "SOLUTION-ONLY-PLAIN-2",
                   "SOLUTION-ONLY-CODE-3", "SOLUTION-ONLY-PLAIN-4"):
        assert marker not in text
    assert make_student.exercise_labels(student_nb) == ["fx-ex-square", "fx-ex-count", "fx-ex-sum", "fx-ex-why"]
    assert "book/00-fixture.ipynb" in student_nb.cells[0].source


def test_fixture_book_runs_clean_and_student_stops_at_first_stub(tmp_path):
    book_nb = nbformat.read(FIXTURE, as_version=4)
    assert first_error(book_nb, tmp_path, timeout=120) is None  # solutions pass their checks
    student = make_student.strip_solutions(book_nb, "book/00-fixture.ipynb")
    index, ename, evalue = first_error(student, tmp_path, timeout=120)
    assert ename in NOT_IMPLEMENTED and "fx-ex-square" in evalue, (index, ename, evalue)
    assert "def my_square" in student.cells[index - 1].source  # the stub, then its check


@pytest.mark.parametrize("bad, match", [
    (lambda nb: nb.cells.pop(8), "solution-end"),                                # no solution-end
    (lambda nb: setattr(nb.cells[5], "source", nb.cells[5].source.replace("fx-ex-square", "fx-ex-nope")),
     "matches no exercise"),                                                     # label mismatch
    (lambda nb: nb.cells.pop(5), "without a solution-start"),                   # stray solution-end
])
def test_malformed_solutions_are_refused(tmp_path, bad, match, capsys):
    nb = nbformat.read(FIXTURE, as_version=4)
    bad(nb)
    with pytest.raises(make_student.SolutionMarkupError, match=match):
        make_student.strip_solutions(nb)
    book = tmp_path / "book"
    book.mkdir()
    broken = nbformat.read(FIXTURE, as_version=4)
    bad(broken)
    nbformat.write(broken, book / "00.ipynb")
    assert make_student.main(["--book", str(book), "--out", str(tmp_path / "s")]) == 1
    assert not (tmp_path / "s" / "00.ipynb").exists()
    assert "Nothing was written" in capsys.readouterr().err


STUB = re.compile(r"NotImplementedError\(\s*[\"']Exercise ([\w-]+)")


def stub_labels(nb) -> list[str]:
    """Labels named by exercise stubs (``raise NotImplementedError("Exercise <label>: ...")``), in order."""
    return [m.group(1) for c in nb.cells if c.cell_type == "code" for m in STUB.finditer(c.source)]


@pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks in book/ yet")
def test_make_student_output_for_the_real_book(tmp_path):
    """What `make student` writes: one copy per chapter, each complete and without solutions."""
    out = tmp_path / "student"
    assert make_student.main(["--book", str(ROOT / "book"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in CHAPTERS]
    for path in CHAPTERS:
        book_nb = nbformat.read(path, as_version=4)
        student_nb = nbformat.read(out / path.name, as_version=4)
        assert_student_copy(book_nb, student_nb)
        assert f"book/{path.name}" in student_nb.cells[0].source
        # every code exercise still has its stub, and the stubs name exercises of this chapter
        labels = make_student.exercise_labels(book_nb)
        assert stub_labels(student_nb) == stub_labels(book_nb)
        assert set(stub_labels(student_nb)) <= set(labels), f"{path.name}: a stub names an unknown exercise"
        # the notebook still has everything a student needs before the first stub
        tags = [t for c in student_nb.cells for t in c.metadata.get("tags", [])]
        assert "colab-install" in tags, f"{path.name}: the Colab install cell is missing"


@pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks in book/ yet")
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_real_chapter_student_edition(path):
    book_nb = nbformat.read(path, as_version=4)
    assert_student_copy(book_nb, make_student.strip_solutions(book_nb, f"book/{path.name}"))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RUN_STUDENT_EXECUTION") != "1",
                    reason="set RUN_STUDENT_EXECUTION=1 to execute the real student notebooks")
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_real_student_notebook_stops_at_a_stub(path, monkeypatch, tmp_path):
    # The kernel inherits this environment: smoke size, and results kept out of the checkout.
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    student = make_student.strip_solutions(nbformat.read(path, as_version=4), f"book/{path.name}")
    result = first_error(student, ROOT / "book", timeout=3600)
    assert result is not None, "the student edition ran without hitting an exercise stub"
    index, ename, evalue = result
    assert ename in NOT_IMPLEMENTED and "Exercise" in evalue, (index, ename, evalue)
    first = stub_labels(student)[:1]
    assert not first or first[0] in evalue, f"stopped at {evalue!r}, not at the first stub {first[0]!r}"
