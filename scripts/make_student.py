"""Write the student edition: every chapter notebook without solutions or outputs.

    python scripts/make_student.py [--out student] [--book book]

For each book/*.ipynb, writes OUT/<same name>.ipynb with
* every gated solution (the ``{solution-start}`` cell through the ``{solution-end}`` cell,
  inclusive) removed, and every ``{solution}`` directive block removed from markdown cells
  (the cell goes too when nothing else is left in it; an exercise sharing the cell stays);
* all outputs and execution counts cleared;
* the title cell's "Open in Colab" line removed (it opens the Colab edition, which has the
  solutions);
* a banner cell on top saying the file is generated and must not be edited.
Exercises (``{exercise}``) stay. Malformed solution markup (a ``solution-start`` without its
``solution-end``, nesting, a solution whose label names no exercise in the notebook) is refused
with an error naming the cell, and nothing is written for that notebook.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from stamp_notebooks import COLAB_LINE  # noqa: E402

_FENCE = r"^[ \t]*(?:`{3,}|:{3,})"
EXERCISE = re.compile(_FENCE + r"\{exercise(?:-start)?\}")
LABEL = re.compile(r"^[ \t]*:label:[ \t]*(\S+)", re.M)
SOL_START = re.compile(_FENCE + r"\{solution-start\}[ \t]*(\S*)", re.M)
SOL_END = re.compile(_FENCE + r"\{solution-end\}", re.M)
SOLUTION = re.compile(_FENCE + r"\{solution\}[ \t]*(\S*)", re.M)


class SolutionMarkupError(ValueError):
    """The notebook's solution directives are malformed; nothing is written."""


def exercise_labels(nb) -> list[str]:
    """Labels of the exercise directives in markdown cells, in order."""
    labels = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for block in re.split(r"(?=" + _FENCE + r"\{)", cell.source, flags=re.M):
                if EXERCISE.match(block.lstrip("\n")):
                    m = LABEL.search(block)
                    labels.append(m.group(1) if m else "")
    return labels


def solution_labels(nb) -> list[str]:
    """Labels of all solutions (gated and plain), in order."""
    return [m.group(1) for c in nb.cells if c.cell_type == "markdown"
            for m in list(SOL_START.finditer(c.source)) + list(SOLUTION.finditer(c.source))]


def remove_solution_blocks(text: str) -> tuple[str, list[str]]:
    """Cut every ``{solution}`` directive block out of markdown ``text``; return (rest, labels).

    A block runs from its opening fence to the next line made only of the same fence character,
    at least as long (as MyST parses it).
    """
    lines, out, labels, i = text.split("\n"), [], [], 0
    while i < len(lines):
        m = re.match(r"^[ \t]*(`{3,}|:{3,})\{solution\}[ \t]*(\S*)", lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence, labels = m.group(1), labels + [m.group(2)]
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), None)
        if j is None:
            raise SolutionMarkupError(f"unclosed {{solution}} {m.group(2)!r}: no closing {fence}")
        i = j + 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n"), labels


def strip_solutions(nb, source_name: str = "the notebook"):
    """Return a student copy of ``nb`` (the input is not modified)."""
    nb = nbformat.from_dict(nb)  # deep copy
    exercises = set(exercise_labels(nb))
    kept, open_at, open_label = [], None, None

    def where(i):
        return f"{source_name}, cell {i}"

    for i, cell in enumerate(nb.cells):
        text = cell.source if cell.cell_type == "markdown" else ""
        start, end = SOL_START.search(text), SOL_END.search(text)
        if start:
            label = start.group(1)
            if open_at is not None:
                raise SolutionMarkupError(f"{where(i)}: solution-start {label!r} inside the gated "
                                          f"solution {open_label!r} opened at cell {open_at}; close it "
                                          "with a ```{solution-end}``` cell first")
            if label not in exercises:
                raise SolutionMarkupError(f"{where(i)}: solution-start label {label!r} matches no "
                                          f"exercise label in the notebook ({sorted(exercises)})")
            if EXERCISE.search(text) or end:
                raise SolutionMarkupError(f"{where(i)}: put ```{{solution-start}}``` alone in its cell")
            open_at, open_label = i, label
            continue
        if end:
            if open_at is None:
                raise SolutionMarkupError(f"{where(i)}: solution-end without a solution-start before it")
            if EXERCISE.search(text):
                raise SolutionMarkupError(f"{where(i)}: put ```{{solution-end}}``` alone in its cell")
            open_at = open_label = None
            continue
        if open_at is not None:
            if EXERCISE.search(text):
                raise SolutionMarkupError(f"{where(i)}: an exercise inside the gated solution "
                                          f"{open_label!r} (opened at cell {open_at}); missing solution-end?")
            continue
        if SOLUTION.search(text):
            try:
                rest, labels = remove_solution_blocks(text)
            except SolutionMarkupError as err:
                raise SolutionMarkupError(f"{where(i)}: {err}") from None
            unknown = [lab for lab in labels if lab not in exercises]
            if unknown:
                raise SolutionMarkupError(f"{where(i)}: solution label(s) {unknown} match no "
                                          f"exercise label in the notebook ({sorted(exercises)})")
            if not rest.strip():
                continue
            cell.source = rest
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        elif COLAB_LINE.search(cell.source):
            cell.source = re.sub(r"\n{3,}", "\n\n", COLAB_LINE.sub("", cell.source)).strip("\n")
        kept.append(cell)
    if open_at is not None:
        raise SolutionMarkupError(f"{source_name}: solution-start {open_label!r} at cell {open_at} "
                                  "has no matching ```{solution-end}``` cell")
    banner = nbformat.v4.new_markdown_cell(
        f"**Student edition** — generated by scripts/make_student.py from {source_name}; "
        "do not edit (edit the book's notebook and regenerate with `make student`).",
        metadata={"tags": ["student-banner"]})
    nb.cells = [banner] + kept
    nbformat.validate(nb)
    return nb


def make_student(book: Path, out: Path) -> list[Path]:
    """Write the student edition of every ``book/*.ipynb`` into ``out``; return the paths."""
    notebooks = sorted(book.glob("*.ipynb"))
    students = {}
    for path in notebooks:  # check every notebook before writing any
        nb = nbformat.read(path, as_version=4)
        name = path.relative_to(book.parent) if book.parent in path.parents else path.name
        students[path.name] = strip_solutions(nb, source_name=str(name))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in students.items():
        nbformat.write(nb, out / name)
        written.append(out / name)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "student", help="output folder (default student/)")
    ap.add_argument("--book", type=Path, default=ROOT / "book", help="folder of chapter notebooks")
    args = ap.parse_args(argv)
    try:
        written = make_student(args.book, args.out)
    except SolutionMarkupError as err:
        print(f"make_student: {err}\nNothing was written. Fix the solution markup and run again.",
              file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"make_student: no notebooks in {args.book}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
