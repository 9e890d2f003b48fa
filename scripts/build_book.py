"""Build the book with every chapter executed, and fail loudly when a chapter raises.

    python scripts/build_book.py [ROOT]             # the full book: _build/html
    python scripts/build_book.py [ROOT] --public    # a course's public site, solutions hidden:
                                                    # _build/public/_build/html

Jupyter Book 1 (myst-nb) turns a chapter that raises into a warning and reports success. Here
the book is built with ``--keep-going`` (every other chapter is still built), then myst-nb's
execution reports (``<html>/reports/<page>.err.log``, one per failed chapter) are read: the
script exits 1 naming each failed chapter, its cell (the notebook's cell index, counting from
0) and the error. Stale reports are removed first. ``make book`` / ``make book-public`` and
``.github/workflows/book.yml`` call it.

``--public`` writes a copy of ``_config.yml`` with sphinx-exercise's ``hide_solutions: true``
and builds with it into its own folder, so the full book's pages are not overwritten. Progress
bars are plain text in the build (``BOOK_PROGRESS=text``, see ``helpers.runtime``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_OUT = Path("_build") / "public"  # relative to the book's root


@dataclass
class Failure:
    """One chapter that raised while it was executed."""

    page: str  # docname, e.g. 'book/01-the-puzzle'
    cell: int | None  # index in the notebook's cells (None: the cell could not be located)
    error: str  # last line of the traceback, e.g. 'ZeroDivisionError: division by zero'

    def describe(self) -> str:
        where = f"cell {self.cell}" if self.cell is not None else "a cell that could not be located"
        return f"{self.page}.ipynb, {where}: {self.error}"


_CELL = re.compile(r"An error occurred while executing the following cell:\n-+\n(.*?)\n-+\n", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_report(root: Path, page: str, text: str) -> Failure:
    """Read one myst-nb execution report (a traceback) into a :class:`Failure`."""
    text = _ANSI.sub("", text)
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    error = lines[-1].strip() if lines else "unknown error"
    cell = None
    m = _CELL.search(text)
    notebook = root / f"{page}.ipynb"
    if m and notebook.exists():
        import nbformat

        source = m.group(1).strip()
        nb = nbformat.read(notebook, as_version=4)
        cell = next((i for i, c in enumerate(nb.cells)
                     if c.cell_type == "code" and c.source.strip() == source), None)
    return Failure(page, cell, error)


def execution_failures(root: Path, html: Path) -> list[Failure]:
    """The chapters whose execution failed in the build written to ``html``."""
    reports = html / "reports"
    found = []
    for path in sorted(reports.rglob("*.err.log")) if reports.is_dir() else []:
        page = path.relative_to(reports).as_posix().removesuffix(".err.log")
        found.append(parse_report(root, page, path.read_text(encoding="utf-8", errors="replace")))
    return found


def public_config(root: Path, out: Path) -> Path:
    """Write ``_config.yml`` with solutions hidden into ``out``; return its path."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["hide_solutions"] = True
    # Jupyter Book resolves local extensions' folders from the config file's folder.
    local = config["sphinx"].get("local_extensions") or {}
    config["sphinx"]["local_extensions"] = {name: str((root / folder).resolve()) for name, folder in local.items()}
    if not config["sphinx"]["local_extensions"]:
        del config["sphinx"]["local_extensions"]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "_config.public.yml"
    path.write_text("# Written by scripts/build_book.py --public from _config.yml; do not edit.\n"
                    + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def jupyter_book() -> str:
    """The ``jupyter-book`` command of this Python's environment (else the one on PATH)."""
    here = Path(sys.executable).parent / "jupyter-book"
    found = str(here) if here.exists() else shutil.which("jupyter-book")
    if not found:
        raise SystemExit("build_book: jupyter-book is not installed (run `make setup`)")
    return found


def build(root: Path, public: bool = False, extra: list[str] | None = None) -> int:
    """Build the book at ``root``; return the exit status (0 only if every chapter ran)."""
    root = root.resolve()
    cmd = [jupyter_book(), "build", str(root), "--keep-going"]
    if public:
        out = root / PUBLIC_OUT
        cmd += ["--config", str(public_config(root, out)), "--path-output", str(out)]
        html = out / "_build" / "html"
    else:
        html = root / "_build" / "html"
    shutil.rmtree(html / "reports", ignore_errors=True)  # a previous build's failures
    env = dict(os.environ, BOOK_PROGRESS=os.environ.get("BOOK_PROGRESS", "text"))
    status = subprocess.run(cmd + list(extra or []), env=env).returncode
    failures = execution_failures(root, html)
    if failures:
        print(f"\nbuild_book: {len(failures)} chapter(s) raised while executing "
              f"(their pages show the error; tracebacks in {html.relative_to(root) / 'reports'}):",
              file=sys.stderr)
        for failure in failures:
            print(f"  FAILED {failure.describe()}", file=sys.stderr)
        return 1
    if status != 0:
        print(f"build_book: jupyter-book exited with status {status}", file=sys.stderr)
        return status
    print(f"Built; no chapter raised. Open {html / 'index.html'} in a browser.")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=ROOT, help="the book's folder (default: this repository)")
    ap.add_argument("--public", action="store_true", help="hide the exercises' solutions (a course's public site)")
    args, extra = ap.parse_known_args(argv)
    return build(args.root, public=args.public, extra=extra)


if __name__ == "__main__":
    sys.exit(main())
