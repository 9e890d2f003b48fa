"""Built pages hold no absolute path of the build machine and no ipywidgets state or CDN widget
script (scripts/check_built_html.py; _ext/no_widget_state.py)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import check_built_html  # noqa: E402

# A built book to scan (e.g. _smoke/_build/html). `make test` scans its own build in the
# rendered step (scripts/check_built_html.py), after building it; here only on request, since
# `make test`'s unit step runs before the build and would read the previous one.
BUILT_HTML = os.environ.get("BOOK_BUILT_HTML")
STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"


def test_absolute_paths_are_found_and_urls_and_relative_paths_are_not():
    leak = "<pre>computed in 1.2 s; saved /tmp/pytest-7/results/puzzle/smoke-x.json</pre>"
    assert any("/tmp/pytest-7/results" in p for p in check_built_html.page_problems(leak))
    home = f"<pre>data in {Path.home()}/.cache/book</pre>"
    assert check_built_html.page_problems(home)
    clean = ('<a href="https://github.com/home/root/x">x</a><pre>saved results/puzzle/smoke-x.json '
             'from data/tmp/a and ../home/b</pre>')
    assert check_built_html.page_problems(clean) == []


def test_widget_state_cdn_scripts_and_size_are_found():
    page = (f'<script type="{STATE}">{{"state": {{}}}}</script>'
            '<script src="https://cdn.jsdelivr.net/npm/require.min.js"></script>')
    problems = check_built_html.page_problems(page)
    assert any("ipywidgets state" in p for p in problems) and any("require.js" in p for p in problems)
    assert any("KiB of HTML" in p for p in check_built_html.page_problems("x" * 5000, max_kib=4))


def widget_book(folder: Path, with_extension: bool) -> Path:
    """A book whose notebook (not executed) saved widget state for a remove-output explorer."""
    ext = "  local_extensions:\n    no_widget_state: _ext\n" if with_extension else ""
    (folder / "_config.yml").write_text(
        "title: widgets\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "sphinx:\n  extra_extensions: []\n" + ext)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: explorer\n")
    shutil.copytree(ROOT / "_ext", folder / "_ext")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    model = {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls",
             "model_module_version": "2.0.0", "state": {"value": 3, "description": "k"}}
    nb.metadata["widgets"] = {STATE: {"version_major": 2, "version_minor": 0, "state": {"abc": model}}}
    explorer = nbformat.v4.new_code_cell("explorer()", metadata={"tags": ["remove-output"]})
    explorer.outputs = [nbformat.v4.new_output("display_data", data={
        VIEW: {"version_major": 2, "version_minor": 0, "model_id": "abc"}, "text/plain": "IntSlider(value=3)"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Explorer"), explorer, nbformat.v4.new_code_cell("print('static')")]
    nbformat.write(nb, folder / "explorer.ipynb")
    return folder


def build(folder: Path) -> Path:
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb if jb.exists() else "jupyter-book"), "build", str(folder)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return folder / "_build" / "html"


@pytest.mark.slow
@pytest.mark.parametrize("with_extension", [True, False])
def test_no_widget_state_for_removed_outputs(tmp_path, with_extension):
    html = build(widget_book(tmp_path, with_extension))
    page = (html / "explorer.html").read_text()
    problems = check_built_html.page_problems(page, [str(tmp_path)])
    if with_extension:
        assert problems == [], problems
    else:  # the oracle: myst-nb alone embeds the state and the CDN scripts
        assert STATE in page and any("ipywidgets state" in p for p in problems)


@pytest.mark.skipif(not BUILT_HTML, reason="set BOOK_BUILT_HTML to a built book's HTML folder "
                    "(make test checks its own in the rendered step)")
def test_built_book_has_no_absolute_path_or_widget_state():
    problems = check_built_html.check(Path(BUILT_HTML))
    assert not problems, "\n".join(problems[:20])
