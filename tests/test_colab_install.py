"""The Colab install cell: a pinned release, and a clear message when another `helpers` shadows
the book's (a reader's helpers.py, a helpers/ folder, PyPI's `helpers`)."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat

import helpers
from helpers import meta

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import stamp_notebooks  # noqa: E402


def test_release_is_the_package_version_in_every_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta.VERSION == project["version"] == helpers.__version__
    assert meta.RELEASE == f"v{meta.VERSION}"
    assert meta.PACKAGE == project["name"] == helpers.BOOK_PACKAGE


def test_install_cell_pins_the_release_not_a_branch():
    src = stamp_notebooks.install_source()
    assert f"@{meta.RELEASE}\"" in src and f"@{meta.BRANCH}\"" not in src
    for path in sorted((ROOT / "book").glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[stamp_notebooks.install_cell_index(nb)].source == src, f"{path.name}: run `make stamp`"


def run_cell(cwd: Path, pythonpath: str = "") -> subprocess.CompletedProcess:
    """Run the install cell as a script in ``cwd`` (the working folder, first on sys.path as in
    a notebook), with only ``pythonpath`` on PYTHONPATH."""
    script = cwd / "install_cell.py"
    script.write_text(stamp_notebooks.install_source())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cell_accepts_the_books_helpers_without_installing(tmp_path):
    result = run_cell(tmp_path, pythonpath=str(ROOT))
    assert result.returncode == 0, result.stderr
    assert "pip" not in result.stdout and "Note:" not in result.stdout


def test_cell_explains_a_local_helpers_py_that_shadows_the_book(tmp_path):
    (tmp_path / "helpers.py").write_text("def my_thing():\n    return 1\n")
    result = run_cell(tmp_path, pythonpath=str(ROOT))  # the book's helpers is installed too
    assert result.returncode != 0
    message = result.stderr
    assert "ImportError" in message and str(tmp_path / "helpers.py") in message
    assert "pip uninstall -y helpers" in message and "Rename your own helpers.py" in message
    assert "restart" in message


def test_cell_explains_a_helpers_folder_without_the_marker(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("__version__ = '0.2.0'\n")
    result = run_cell(tmp_path)
    assert result.returncode != 0 and "is not the book's package" in result.stderr


def test_cell_notes_a_different_installed_release(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text(
        f"BOOK_PACKAGE = {meta.PACKAGE!r}\n__version__ = '0.0.1'\n")
    result = run_cell(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "helpers 0.0.1 is installed" in result.stdout and meta.RELEASE in result.stdout
