"""Every figure a chapter shows has alt text (README, "Figures and alt text").

Convention: a code cell that draws a figure carries its alt text in its metadata,
``{"mystnb": {"image": {"alt": "..."}}}``; myst-nb writes it into the page's ``<img alt=...>``
(``scripts/check_rendered_page.py`` checks the built page). A cell draws a figure when its source
calls a plotting function (``plt.show()``, ``plots.*``, ``<module>.plot_*``, ``static_panels``,
``imshow``, ...) or when its stored outputs contain an image. Cells whose output is removed from
the page (tags ``remove-output``, ``remove-cell``) are exempt.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every notebook page of the book: the chapters and pages such as book/back/*.ipynb.
CHAPTERS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
EXECUTED = sorted((ROOT / "_smoke" / "book").glob("[0-9]*.ipynb"))  # `make test` writes these
DRAWS = re.compile(r"\bplt\.(show|subplots|figure|imshow|plot|bar|scatter|hist)\(|\.plot_\w+\(|"
                   r"\bplots\.(show_image_rows|plot_layer_accuracy)\(|\bstatic_panels\(|\.imshow\(|"
                   r"\bdisplay\(fig|\bexplorer\(")
HIDDEN = {"remove-output", "remove-cell"}
MIN_WORDS = 8  # a sentence that says what is plotted against what, not just "a figure"
FIX = ('add the alt text to the cell\'s metadata: {"mystnb": {"image": {"alt": "<chart type; what '
       'is plotted against what; what each line, colour or marker is>"}}}')


def alt_text(cell) -> str | None:
    return cell.metadata.get("mystnb", {}).get("image", {}).get("alt")


def draws_figure(cell) -> str | None:
    """Why the cell shows a figure on the page ('calls ...' / 'has an image output'), or None."""
    if cell.cell_type != "code" or HIDDEN & set(cell.metadata.get("tags", [])):
        return None
    m = DRAWS.search(cell.source)
    if m:
        return f"calls {m.group(0)}"
    if any(k.startswith("image/") for o in cell.get("outputs", []) for k in o.get("data", {})):
        return "has an image output"
    return None


def _name(path: Path) -> str:
    """book/<...> for a page of the book, else the file name (tests use temporary files)."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return f"book/{path.name}"


def problems(path: Path) -> list[str]:
    """Every figure cell without usable alt text, and alt text on cells that draw nothing."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        why, alt = draws_figure(cell), alt_text(cell)
        if why and not alt:
            found.append(f"{_name(path)} cell {i} (id {cell.get('id')}) {why} but has no alt text; {FIX}")
        elif why and len(alt.split()) < MIN_WORDS:
            found.append(f"{_name(path)} cell {i}: alt text {alt!r} is too short to describe "
                         f"the figure (at least {MIN_WORDS} words)")
        elif alt and not why:
            found.append(f"{_name(path)} cell {i} has alt text but draws no figure (a plotting "
                         "call moved?); move the alt text to the cell that draws")
    return found


def test_rendered_page_check_fails_on_an_output_image_without_alt(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import check_rendered_page as crp

    (tmp_path / "fig.png").write_bytes(b"png" * 10)
    page = tmp_path / "page.html"
    dom = ("<html><head><title>T</title></head><body><mjx-container></mjx-container>"
           '<div class="cell_output"><img src="fig.png" alt="{}"></div></body></html>')
    _, fail = crp.check_dom(page, dom.format("Line chart of accuracy against layer."))
    assert not fail
    report, fail = crp.check_dom(page, dom.format(""))
    assert any("without alt text" in f for f in fail), fail


def cell(source, **meta):
    return nbformat.v4.new_code_cell(source, metadata=meta)


@pytest.mark.parametrize("source, expected", [
    ("lower_layer.plot_sweeps(payload, prov)\nplt.show()", "calls .plot_sweeps("),
    ("fig, ax = plt.subplots()", "calls plt.subplots("),
    ("plots.show_image_rows(rows, titles)", "calls plots.show_image_rows("),
    ("widgets.static_panels(draw, cells, n_axes=2)", "calls static_panels("),
    ("print(plots.provenance_caption(prov))", None),      # a caption is text, not a figure
    ("x = np.arange(3)", None),
])
def test_detector(source, expected):
    assert draws_figure(cell(source)) == expected


def test_detector_reads_outputs_and_respects_removed_output():
    shown = cell("f()")
    shown.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "AAAA"})]
    assert draws_figure(shown) == "has an image output"
    assert draws_figure(cell("feature_weighting.explorer()", tags=["remove-output"])) is None


def test_problems_name_the_chapter_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 9. T"),
        cell("m.plot_x(p)\nplt.show()"),
        cell("m.plot_y(p)", mystnb={"image": {"alt": "a plot"}}),
        cell("x = 1", mystnb={"image": {"alt": "Line chart of accuracy against layer for two runs."}}),
        cell("m.plot_z(p)", mystnb={"image": {"alt": "Line chart of accuracy against layer for two runs."}}),
    ])
    path = tmp_path / "09-t.ipynb"
    nbformat.write(nb, path)
    found = problems(path)
    assert len(found) == 3
    assert "book/09-t.ipynb cell 1" in found[0] and "no alt text" in found[0] and '"mystnb"' in found[0]
    assert "cell 2" in found[1] and "too short" in found[1]
    assert "cell 3" in found[2] and "draws no figure" in found[2]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: str(p.relative_to(ROOT / "book")))
def test_every_figure_has_alt_text(path):
    found = problems(path)
    assert not found, "\n".join(found)


@pytest.mark.skipif(not EXECUTED, reason="no executed chapters in _smoke/ (run `make notebooks`)")
@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: p.name)
def test_every_image_output_has_alt_text(path):
    """The detector's ground truth: every cell that showed an image in the last executed copy
    (``_smoke/book``, written by `make test`) has alt text in the book's notebook (matched by
    cell id, so a stale copy cannot hide a new figure cell or fail on an old one)."""
    source = ROOT / "book" / path.name
    if not source.exists():
        pytest.skip(f"{path.name} is no longer in book/")
    book = {c.get("id"): c for c in nbformat.read(source, as_version=4).cells}
    for i, c in enumerate(nbformat.read(path, as_version=4).cells):
        has_image = c.cell_type == "code" and not HIDDEN & set(c.metadata.get("tags", [])) and any(
            k.startswith("image/") for o in c.get("outputs", []) for k in o.get("data", {}))
        if has_image and c.get("id") in book:
            assert alt_text(book[c.get("id")]), (
                f"book/{path.name} cell id {c.get('id')} showed an image when executed but has no "
                f"alt text; {FIX}")
