"""`make book` (scripts/build_book.py) exits non-zero naming the chapter and cell that raised,
after building the rest; `make book-public` hides the solutions. Tiny books in a tmp folder."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_book  # noqa: E402

CONFIG = """title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: force
  timeout: 120
sphinx:
  extra_extensions:
    - sphinx_exercise
  local_extensions:
    hidden_solutions: _ext
"""
INTRO = "# Intro\n\n```{exercise}\n:label: ex1\nAdd one.\n```\n\n```{solution} ex1\nTHE-SOLUTION-TEXT\n```\n"


def tiny_book(folder: Path, notebooks: dict[str, list[str]]) -> Path:
    """A book with an intro page (one exercise and its solution) and one notebook per entry."""
    (folder / "_config.yml").write_text(CONFIG)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                     + "".join(f"  - file: {name}\n" for name in notebooks))
    (folder / "intro.md").write_text(INTRO)
    shutil.copytree(ROOT / "_ext", folder / "_ext")
    for name, cells in notebooks.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}")] + [nbformat.v4.new_code_cell(c) for c in cells]
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "build_book.py"), str(folder), *args],
                          capture_output=True, text=True, timeout=600)


def test_report_names_the_cell_and_the_error(tmp_path):
    tiny_book(tmp_path, {"ch": ["x = 1", "y = x / 0"]})
    report = ("Traceback (most recent call last):\n  ...\nnbclient.exceptions.CellExecutionError: "
              "An error occurred while executing the following cell:\n------------------\ny = x / 0\n"
              "------------------\n\n\x1b[0;31mZeroDivisionError\x1b[0m: division by zero\n")
    failure = build_book.parse_report(tmp_path, "ch", report)
    assert (failure.cell, failure.error) == (2, "ZeroDivisionError: division by zero")
    assert failure.describe() == "ch.ipynb, cell 2: ZeroDivisionError: division by zero"
    unknown = build_book.parse_report(tmp_path, "gone", "KeyError: 'a'\n")
    assert unknown.cell is None and "could not be located" in unknown.describe()


def test_public_config_only_adds_hide_solutions(tmp_path):
    import yaml

    tiny_book(tmp_path, {})
    written = yaml.safe_load(build_book.public_config(tmp_path, tmp_path / "out").read_text())
    original = yaml.safe_load(CONFIG)
    assert written["sphinx"].pop("config") == {"hide_solutions": True}
    # the extensions' folder, resolved from the book (Jupyter Book reads it from the config's folder)
    assert written["sphinx"].pop("local_extensions") == {"hidden_solutions": str(tmp_path / "_ext")}
    original["sphinx"].pop("local_extensions")
    assert written == original


@pytest.mark.slow
def test_a_raising_chapter_fails_the_build_after_the_rest_is_built(tmp_path):
    tiny_book(tmp_path, {"fine": ["print('fine')"], "boom": ["x = 1", "def f():\n    return 1 / 0\nf()"]})
    result = run(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-3000:]
    assert "FAILED boom.ipynb, cell 2: ZeroDivisionError: division by zero" in out
    assert "no chapter raised" not in out
    assert (tmp_path / "_build" / "html" / "fine.html").exists()  # the rest was built
    assert "fine" in (tmp_path / "_build" / "html" / "fine.html").read_text()


@pytest.mark.slow
def test_public_build_hides_solutions_in_its_own_folder(tmp_path):
    """Both kinds: a {solution} directive and a gated one ({solution-start} cells {solution-end})."""
    tiny_book(tmp_path, {})
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Gated\n\n```{exercise}\n:label: ex2\nWrite it.\n```"),
                nbformat.v4.new_markdown_cell("```{solution-start} ex2\n```"),
                nbformat.v4.new_code_cell("GATED_SOLUTION = 42"),
                nbformat.v4.new_markdown_cell("```{solution-end}\n```"),
                nbformat.v4.new_code_cell("print('after the solution')")]
    nbformat.write(nb, tmp_path / "gated.ipynb")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: gated\n")
    assert run(tmp_path).returncode == 0
    public = run(tmp_path, "--public")
    assert public.returncode == 0, (public.stdout + public.stderr)[-3000:]
    full_page = (tmp_path / "_build" / "html" / "intro.html").read_text()
    public_page = (tmp_path / build_book.PUBLIC_OUT / "_build" / "html" / "intro.html").read_text()
    assert "THE-SOLUTION-TEXT" in full_page
    assert "THE-SOLUTION-TEXT" not in public_page and "Add one." in public_page
    full_gated = (tmp_path / "_build" / "html" / "gated.html").read_text()
    public_gated = (tmp_path / build_book.PUBLIC_OUT / "_build" / "html" / "gated.html").read_text()
    assert "GATED_SOLUTION" in full_gated
    assert "GATED_SOLUTION" not in public_gated
    assert "Write it." in public_gated and "after the solution" in public_gated
