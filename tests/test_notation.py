"""The notation page lists every symbol the chapters use (book/notation.md, scripts/notation_symbols.py)."""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import notation_symbols as ns  # noqa: E402

CHAPTERS = ns.chapters()


# --- the extractor, on cases with a known answer ---------------------------------------------

@pytest.mark.parametrize("math, expected", [
    (r"g_i^{\,l/L}", ["g"]),                                   # sub- and superscripts dropped
    (r"W_{l+1}^\top W_{l+1}", ["W", "W"]),
    (r"\lambda^* < \lambda^\star", [r"\lambda^\star", r"\lambda^\star"]),  # a star is kept
    (r"\hat\alpha + \hat{c}_\pm + \bar\xi_+", [r"\hat \alpha", r"\hat c", r"\bar \xi"]),
    (r"\mathcal{L}(f) = -2\,\mathbb E[f(x)]", [r"\mathcal L", "f", r"\mathbb E", "f", "x"]),
    (r"\R^d \in \E x", [r"\mathbb R", r"\mathbb E", "x"]),    # the book's MathJax macros
    (r"\operatorname{tr}(A) + \mathrm{Acc}(\alpha)", [r"\operatorname{tr}", "A", r"\operatorname{Acc}", r"\alpha"]),
    (r"a_i = \frac{m_i}{s_i^2} \ \text{ on feature } i", ["a", "m", "s"]),  # \text is prose; i ignored
    (r"\sum_{j \ne i} \exp\big(x_j\big) \le 2", ["x"]),       # grammar commands are not symbols
    (r"\mathrm{diag}(v) = \operatorname{diag}(v)", [r"\operatorname{diag}", "v"] * 2),  # one name
    (r"\foo + 1", [r"\foo"]),                                  # unknown commands are reported
])
def test_symbols_in(math, expected):
    assert ns.symbols_in(math) == expected


def test_math_spans_skip_code_and_find_every_form():
    md = ("Inline $x_i$ and display\n\n$$\ny = \\phi\n$$\n\nCode `$not$` and\n\n```python\n"
          "a = '$b$'\n```\n\n```{exercise} T\n:label: e\nInside $\\tau$.\n```\n"
          "\\begin{equation}\nk + 1\n\\end{equation}\nPrice: \\$5.")
    assert [s.strip() for s in ns.math_spans(md)] == ["x_i", "y = \\phi", "\\tau", "k + 1"]


def test_notation_table_parses_and_rejects_bad_rows(tmp_path):
    page = tmp_path / "notation.md"
    page.write_text("| Symbol | Meaning | Introduced |\n| --- | --- | --- |\n"
                    "| $g_i$, $\\lambda^\\star$ | gain; threshold | Ch. 2 |\n")
    assert ns.listed_symbols(page) == {"g", r"\lambda^\star"}
    page.write_text("| Symbol | Meaning | Introduced |\n| --- | --- | --- |\n| g | gain | Ch. 2 |\n")
    with pytest.raises(ValueError, match="no \\$...\\$ symbol"):
        ns.notation_rows(page)
    page.write_text("| $g$ | gain |\n")
    with pytest.raises(ValueError, match="3 columns"):
        ns.notation_rows(page)
    with pytest.raises(FileNotFoundError, match="notation page"):
        ns.notation_rows(tmp_path / "missing.md")


def test_a_missing_symbol_is_reported_with_its_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 9. T\n\nLet $\\zeta_i$ be new.")])
    path = tmp_path / "09-t.ipynb"
    nbformat.write(nb, path)
    miss = ns.missing(path)
    assert list(miss) == [r"\zeta"] and miss[r"\zeta"].cell == 0


def test_notation_page_rows_are_unique_and_complete():
    rows = ns.notation_rows()
    assert len(rows) >= 30
    for row in rows:
        assert row.meaning and row.chapter, f"book/notation.md line {row.line}: empty column"
    firsts = [row.cell for row in rows]
    assert len(firsts) == len(set(firsts)), "a symbol cell appears twice in book/notation.md"


# --- every chapter ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_symbols_are_listed(path):
    miss = ns.missing(path)
    lines = [f"  {sym!r}: first used in cell {use.cell}, in ${' '.join(use.math.split())[:80]}$"
             for sym, use in miss.items()]
    assert not miss, (
        f"book/{path.name} uses {len(miss)} symbol(s) that book/notation.md does not list:\n"
        + "\n".join(lines)
        + "\nAdd a row '| $<symbol>$ | <meaning> | {doc}`Ch. N <" + path.stem + ">` |' to the table "
          "in book/notation.md for each (or extend an existing row of the same letter with this "
          "chapter's meaning). If it is LaTeX grammar rather than a symbol, add it to LATEX_SYNTAX "
          "in scripts/notation_symbols.py.")
