"""Chapters agree with helpers/meta.py (install cell, _config.yml) and store no errors."""

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "chapter.ipynb"
sys.path.insert(0, str(ROOT / "scripts"))
import stamp_notebooks  # noqa: E402

from helpers import meta  # noqa: E402

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
PIP_LINE = re.compile(r"^\s*[!%]pip\s+install\b(.*)$", re.M)


def unquoted_version_pins(source: str) -> list[str]:
    """`!pip install` lines with a `<`/`>` outside quotes (the shell would redirect)."""
    bad = []
    for m in PIP_LINE.finditer(source):
        args = re.sub(r"'[^']*'|\"[^\"]*\"", "", m.group(1))
        if "<" in args or ">" in args:
            bad.append(m.group(0).strip())
    return bad


def check(book: Path, config="none") -> int:
    return stamp_notebooks.main(["--check", "--book", str(book), "--config", str(config)])


@pytest.fixture
def book(tmp_path):
    (tmp_path / "book").mkdir()
    shutil.copy(FIXTURE, tmp_path / "book" / "00-fixture.ipynb")
    return tmp_path / "book"


def edit(path, fn):
    nb = nbformat.read(path, as_version=4)
    fn(nb)
    nbformat.write(nb, path)


def test_fixture_passes(book):
    assert check(book) == 0


def test_edited_url_fails_and_stamp_repairs_it(book, capsys):
    path = book / "00-fixture.ipynb"
    edit(path, lambda nb: setattr(nb.cells[1], "source", nb.cells[1].source.replace(meta.RELEASE, "v0.0.0-dev")))
    assert check(book) == 1
    assert "00-fixture.ipynb" in capsys.readouterr().out
    assert stamp_notebooks.main(["--book", str(book), "--config", "none"]) == 0
    assert check(book) == 0


def test_missing_install_cell_fails_and_stamp_inserts_it(book):
    path = book / "00-fixture.ipynb"
    edit(path, lambda nb: nb.cells.pop(1))
    assert check(book) == 1
    stamp_notebooks.main(["--book", str(book), "--config", "none"])
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "colab-install" in nb.cells[1].metadata.tags
    assert check(book) == 0


def test_install_cell_source_is_safe_python():
    src = stamp_notebooks.install_source()
    compile(src, "install-cell", "exec")
    assert stamp_notebooks.pip_spec() in src and "!pip" not in src and 'find_spec("helpers") is None' in src


def test_config_stamp_edits_only_repository_lines(tmp_path):
    text = (ROOT / "_config.yml").read_text() if (ROOT / "_config.yml").exists() else \
        "title: x\nrepository:\n  url: https://example.org/a\n  branch: main\nhtml:\n  x: 1\n"
    wrong = re.sub(r"(?m)^  url: .*$", "  url: https://example.org/wrong", text)
    wrong = re.sub(r"(?m)^  branch: .*$", "  branch: wrong", wrong)
    cfg = tmp_path / "_config.yml"
    cfg.write_text(wrong)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check(empty, cfg) == 1
    stamp_notebooks.main(["--book", str(empty), "--config", str(cfg)])
    new = cfg.read_text()
    assert f"  url: {meta.REPO_URL}\n" in new and f"  branch: {meta.BRANCH}\n" in new
    changed = [(a, b) for a, b in zip(wrong.splitlines(), new.splitlines()) if a != b]
    assert len(changed) == 2 and len(wrong.splitlines()) == len(new.splitlines())


def test_unquoted_pin_detector():
    assert unquoted_version_pins("!pip install torch>=2.2")
    assert unquoted_version_pins("%pip install -q 'a' b<3")
    assert not unquoted_version_pins("!pip install 'torch>=2.2' \"numpy<2\"")


def test_real_book_agrees_with_meta():
    """Fails until `make stamp` is run after a chapter or helpers/meta.py changes."""
    assert check(ROOT / "book", ROOT / "_config.yml") == 0, "run `make stamp`"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_no_errors_or_unquoted_pins(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{path.name} cell {i} stores an error output: {errors[0].get('ename')}"
        streams = json.dumps(cell.get("outputs", []))
        assert "Traceback (most recent call last)" not in streams, f"{path.name} cell {i}: traceback"
        assert not unquoted_version_pins(cell.source), (
            f"{path.name} cell {i}: quote version specifiers, e.g. !pip install 'torch>=2.2'")


def test_no_control_characters_in_cell_sources():
    """A backslash escape written through a Python string ('\\a' in '$W_\\alpha$') leaves a
    control character in the cell (BEL + 'lpha'), which MathJax renders as an error."""
    import glob

    bad = []
    for path in sorted(glob.glob(str(ROOT / "book" / "**" / "*.ipynb"), recursive=True)):
        for i, cell in enumerate(json.load(open(path, encoding="utf-8"))["cells"]):
            for m in re.finditer(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "".join(cell["source"])):
                bad.append(f"{path} cell {i}: {m.group(0)!r}")
    assert not bad, bad
