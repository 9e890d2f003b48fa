"""The student edition: no solutions left, exercises kept, valid, and it works without them.

The book's notebooks are executed once per test run (nbmake, `make notebooks`); the student
edition is not executed again. What could break in it is checked on the notebooks' code and on
nbmake's executed copies (``BOOK_EXECUTED``, set by `make test` to ``_smoke/book``):

* every stub, run on its own, raises ``NotImplementedError`` naming its exercise (or leaves its
  answer ``None``, which the check cell reports as not done), and a check cell follows it;
* no other cell of the student edition uses a name that only a removed solution defines, or
  a stub's unfinished answer (it would fail there, not in the book): a dataflow check on the
  cells' code (:func:`student_dataflow_problems`), shown to catch both on a broken notebook;
* in the executed copy every code cell ran, without an error, and every check cell printed its
  tick: the solutions pass their checks.
"""

import ast
import builtins
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
EXECUTED = Path(os.environ["BOOK_EXECUTED"]) if os.environ.get("BOOK_EXECUTED") else None
CHECK_CALL = re.compile(r"\bchecks\.\w+\(")


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
        # no link to the Colab edition, which has the solutions
        assert "Open in Colab" not in "".join(c.source for c in student_nb.cells), path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_real_chapter_student_edition(path):
    book_nb = nbformat.read(path, as_version=4)
    assert_student_copy(book_nb, make_student.strip_solutions(book_nb, f"book/{path.name}"))


# ------------------------------------------------------------ the student edition works


def _names(source: str) -> tuple[set, set]:
    """(names a cell binds, names it reads from outside itself), from its code.

    Binding counts anywhere in the cell (assignments, defs, imports, arguments, loop targets),
    so a name both bound and read in one cell is taken as the cell's own (no false alarm).
    """
    tree = ast.parse(source)
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, read - bound - set(dir(builtins))


def _top_level_names(source: str) -> set:
    """Names a cell binds at module level (its defs and plain assignments)."""
    out = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def _code(cell) -> str:
    """A code cell's Python (IPython magics and shell lines left out)."""
    return "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))


def is_stub(cell) -> bool:
    """An exercise's stub: a code cell with a ``# TODO`` for the student."""
    return cell.cell_type == "code" and re.search(r"#\s*TODO", cell.source) is not None


def is_check(cell) -> bool:
    return cell.cell_type == "code" and bool(CHECK_CALL.search(cell.source))


def student_dataflow_problems(book_nb, student_nb) -> list[str]:
    """Cells of the student edition that would fail there but not in the book: they read a name
    that only a removed solution binds, or (outside a check cell) a stub's unfinished answer."""
    kept = {c.get("id") for c in student_nb.cells}
    solution_only = set()
    for c in book_nb.cells:
        if c.cell_type == "code" and c.get("id") not in kept:
            solution_only |= _names(_code(c))[0]
    defined, stubbed, problems = set(), set(), []
    for i, cell in enumerate(student_nb.cells):
        if cell.cell_type != "code":
            continue
        bound, read = _names(_code(cell))
        if is_stub(cell):
            answers = _top_level_names(_code(cell))
            stubbed |= answers
            defined -= answers
            continue
        missing = sorted(read & solution_only - defined - stubbed)
        unfinished = sorted(read & stubbed) if not is_check(cell) else []
        if missing:
            problems.append(f"cell {i} reads {missing}, which only a removed solution defines")
        if unfinished:
            problems.append(f"cell {i} uses {unfinished}, an exercise's answer the student has not "
                            "written yet: read it only in the exercise's check cell")
        defined |= bound
        stubbed -= bound
    return problems


def stub_problems(student_nb, labels) -> list[str]:
    """Each stub, executed on its own: its function raises NotImplementedError naming one of
    ``labels`` (or its answer is None); the next code cell is a check cell that reads it."""
    problems = []
    cells = student_nb.cells
    for i, cell in enumerate(cells):
        if not is_stub(cell):
            continue
        scope = {}
        exec(compile(_code(cell), f"stub cell {i}", "exec"), scope)  # defs only: cheap, no kernel
        answers = {k: v for k, v in scope.items() if k != "__builtins__"}
        for name, value in answers.items():
            if value is None:
                continue
            n_args = len([p for p in __import__("inspect").signature(value).parameters.values()
                          if p.default is p.empty])
            try:
                value(*[None] * n_args)
                problems.append(f"cell {i}: the stub {name}() returns instead of raising")
            except NotImplementedError as err:
                if not any(f"Exercise {lab}" in str(err) for lab in labels):
                    problems.append(f"cell {i}: {name}() raises {err!r}, naming no exercise of "
                                    "this chapter")
        after = next((c for c in cells[i + 1:] if c.cell_type == "code"), None)
        if after is None or not is_check(after) or not set(answers) & _names(_code(after))[1]:
            problems.append(f"cell {i}: the stub for {sorted(answers)} is not followed by a check "
                            "cell that reads it")
    return problems


def test_fixture_student_edition_works_without_its_solutions():
    book_nb = nbformat.read(FIXTURE, as_version=4)
    student = make_student.strip_solutions(book_nb)
    assert student_dataflow_problems(book_nb, student) == []
    assert stub_problems(student, make_student.exercise_labels(book_nb)) == []


def test_dataflow_check_catches_what_would_break_the_student_edition():
    """A later cell reading a solution's variable, or a stub's answer, is caught; so is a stub
    that does not raise and one without its check cell."""
    def broken(extra_cell):
        nb = nbformat.read(FIXTURE, as_version=4)
        solution = next(c for c in nb.cells if "SOLUTION-ONLY-CODE-1" in c.source)
        solution.source += "\ntable = np.arange(3)  # bound only in the solution"
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
        return student_dataflow_problems(nb, make_student.strip_solutions(nb))

    assert broken("print(np.pi)") == []
    found = broken("print(table.sum())")
    assert len(found) == 1 and "reads ['table'], which only a removed solution defines" in found[0]
    found = broken("value = my_square(np.arange(2))")
    assert len(found) == 1 and "uses ['my_square'], an exercise's answer" in found[0]
    student = make_student.strip_solutions(nbformat.read(FIXTURE, as_version=4))
    i = next(i for i, c in enumerate(student.cells) if is_stub(c) and STUB.search(c.source))
    assert stub_problems(student, ["fx-ex-square"]) == []
    assert "naming no exercise" in stub_problems(student, ["another-label"])[0]
    student.cells[i].source = student.cells[i].source.replace("raise NotImplementedError", "return 0  #")
    assert any("returns instead of raising" in p for p in stub_problems(student, ["fx-ex-square"]))
    del student.cells[i + 1:]
    assert any("not followed by a check cell" in p for p in stub_problems(student, ["fx-ex-square"]))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_real_student_edition_works_without_its_solutions(path):
    book_nb = nbformat.read(path, as_version=4)
    student = make_student.strip_solutions(book_nb, f"book/{path.name}")
    problems = student_dataflow_problems(book_nb, student)
    problems += stub_problems(student, make_student.exercise_labels(book_nb))
    assert stub_labels(student), f"{path.name} has no code exercise stub"
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.skipif(EXECUTED is None, reason="set BOOK_EXECUTED to nbmake's executed copies "
                                             "(`make test` does, after `make notebooks`)")
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_executed_copy_ran_every_cell_and_every_check_passed(path):
    """nbmake's executed copy (the run `make test` does once) is of this notebook, ran every
    code cell without an error, and every check cell printed its tick."""
    copy = EXECUTED / path.name
    assert copy.exists(), f"{copy} is missing: run `make notebooks` first"
    book = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    ran = [c for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"]
    assert [c.source for c in ran] == [c.source for c in book], f"{copy} is not of the current {path}"
    for i, cell in enumerate(ran):
        assert cell.execution_count is not None, f"{path.name} code cell {i} did not run"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name} code cell {i} raised {errors[0].ename}"
        if is_check(cell):
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "✓" in text, f"{path.name} code cell {i} (a check) printed no tick: {text!r}"
