"""Extract the mathematical symbols a chapter's prose uses, and compare them with the notation page.

    python scripts/notation_symbols.py            # every chapter: symbols missing from book/notation.md
    python scripts/notation_symbols.py --all      # every symbol each chapter uses, with its first use

Used by ``tests/test_notation.py``. A *symbol* is what a reader must be told the meaning of:
a Greek letter (``\\phi``), a single Latin letter (``x``, ``W``), a styled letter
(``\\mathcal L``, ``\\mathbb E``), a named operator (``\\operatorname{tr}``, ``\\mathrm{Acc}``;
both spellings are one symbol, written ``\\operatorname{...}``),
and an accented symbol (``\\hat\\alpha``). Normalisation, so that one table row covers a family:

* subscripts are dropped (``g_i``, ``g_t``, ``g_{\\max}`` are all ``g``; ``W_1 ... W_L`` are ``W``);
* superscripts are dropped (powers, transposes, ``^{(l)}``), except a star, which names a
  different object (``\\lambda^\\star`` and ``\\lambda^*`` are ``\\lambda^\\star``; ``A^\\star``);
* ``\\text{...}`` is prose, not notation, and is skipped; primes are dropped;
* the book's MathJax macros are expanded (``\\R`` is ``\\mathbb R``, ``\\E`` is ``\\mathbb E``).

Maths is found in markdown cells only: ``$...$``, ``$$...$$`` and ``\\begin{env}...\\end{env}``;
inline code (`` `...` ``) and non-directive code fences are skipped first. LaTeX commands that
are grammar rather than symbols (``\\frac``, ``\\sum``, ``\\log``, spacing, delimiters) are in
``LATEX_SYNTAX``; an unknown command is reported as a symbol, so nothing slips through silently.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course  # noqa: E402  (scripts/course.py, next to this file)

NOTATION_PAGE = ROOT / "book" / "notation.md"

# LaTeX grammar: operators, relations, delimiters, spacing, sizes, functions with a fixed meaning
# everyone knows (log, exp, max). These never need a row in the notation table.
LATEX_SYNTAX = frozenset("""
frac dfrac tfrac sqrt sum prod int lim min max sup inf arg argmin argmax log exp ln det sin cos tan
cosh sinh tanh gtrsim lesssim
left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr middle quad qquad , ; ! : cdot cdots
ldots dots vdots ddots times div pm mp le leq ge geq ll gg ne neq approx sim propto equiv to
rightarrow leftarrow Rightarrow Leftarrow iff implies mapsto in notin subset subseteq cup cap
setminus forall exists infty partial nabla top perp lVert rVert Vert lvert rvert vert langle
rangle lfloor rfloor lceil rceil underbrace overbrace boxed displaystyle textstyle tfrac binom
begin end mid colon odot otimes oplus circ star ast prime emptyset varnothing
""".split())
# Commands whose argument is text or a label, not maths.
SKIP_WITH_ARGUMENT = frozenset({"text", "textrm", "textit", "textbf", "mbox", "tag", "label"})
# Commands that style the letter after them into a new symbol.
STYLES = frozenset({"mathcal", "mathbb", "mathbf", "boldsymbol", "bm", "mathrm", "operatorname",
                    "mathsf", "mathit", "mathfrak"})
ACCENTS = frozenset({"hat", "widehat", "bar", "overline", "tilde", "widetilde", "vec", "dot"})
# The book's MathJax macros (_config.yml, mathjax3_config.tex.macros).
MACROS = {"R": r"\mathbb R", "E": r"\mathbb E"}

# Symbols that need no row. Keep this short: each entry says why it is not notation.
IGNORED = frozenset({
    "i", "j",   # generic running indices (sums, "feature i"); their range is always said in the text
})


@dataclass(frozen=True)
class Use:
    """One use of a symbol: where it was and the maths it appeared in."""

    symbol: str
    cell: int
    math: str


def _strip_code(markdown: str) -> str:
    """Remove code fences that are not MyST directives, and inline code spans.

    Directive fences (```{exercise} ...) are kept with their content, which is markdown;
    a bare closing fence closes the innermost open directive.
    """
    out, code_fence, directives = [], None, []
    for line in markdown.split("\n"):
        m = re.match(r"^[ \t]*(`{3,}|~{3,}|:{3,})(.*)$", line)
        if code_fence is not None:
            if m and m.group(1)[0] == code_fence[0] and len(m.group(1)) >= len(code_fence) \
                    and not m.group(2).strip():
                code_fence = None
            continue
        if m and m.group(2).strip().startswith("{"):
            directives.append(m.group(1))
        elif m and not m.group(2).strip() and directives and directives[-1][0] == m.group(1)[0]:
            directives.pop()
        elif m and m.group(1)[0] != ":":
            code_fence = m.group(1)
            continue
        out.append(line)
    return re.sub(r"`[^`\n]*`", " ", "\n".join(out))


def math_spans(markdown: str) -> list[str]:
    """The maths in a markdown string: display, inline and environment blocks, in order."""
    text = _strip_code(markdown).replace(r"\$", " ")
    spans = []
    pattern = re.compile(r"\$\$(.+?)\$\$|\$([^$\n](?:[^$]*?[^$\s\\])?)\$|"
                         r"\\begin\{([a-zA-Z*]+)\}(.+?)\\end\{\3\}", re.S)
    for m in pattern.finditer(text):
        spans.append(m.group(1) or m.group(2) or m.group(4))
    return [s for s in spans if s and s.strip()]


def _read_group(s: str, i: int) -> tuple[str, int]:
    """Read one TeX atom at s[i:]: a braced group, a command (with its name), or one character."""
    while i < len(s) and s[i] in " \t\n":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1:j], j + 1
            j += 1
        return s[i + 1:], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([a-zA-Z]+|.)", s[i:])
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def _canon(atom: str) -> str:
    """Canonical spelling of a styled/accented argument: '{\\alpha}' -> '\\alpha', ' L' -> 'L'."""
    atom = atom.strip()
    return atom[1:-1].strip() if atom.startswith("{") and atom.endswith("}") else atom


def symbols_in(math: str) -> list[str]:
    """Normalised symbols of one maths span, in order of appearance (with repeats)."""
    out: list[str] = []
    i, s = 0, math
    while i < len(s):
        c = s[i]
        if c == "\\":
            m = re.match(r"\\([a-zA-Z]+|.)", s[i:])
            name, i = m.group(1), i + len(m.group(0))
            if name in MACROS:
                out.append(MACROS[name])
            elif name in SKIP_WITH_ARGUMENT:
                _, i = _read_group(s, i)
            elif name in ("begin", "end"):
                _, i = _read_group(s, i)  # the environment's name
            elif name in STYLES:
                arg, i = _read_group(s, i)
                # \mathrm{tr} and \operatorname{tr} are the same name: one spelling for both
                out.append(f"\\operatorname{{{_canon(arg)}}}" if name in ("mathrm", "operatorname")
                           else f"\\{name} {_canon(arg)}")
            elif name in ACCENTS:
                arg, i = _read_group(s, i)
                inner = symbols_in(arg)
                out.append(f"\\hat {inner[0]}" if name in ("hat", "widehat") and inner else
                           f"\\{name} {inner[0]}" if inner else "")
            elif name in LATEX_SYNTAX or not name.isalpha():
                pass
            else:
                out.append(f"\\{name}")
        elif c in "_^":
            arg, i = _read_group(s, i + 1)
            if c == "^" and _canon(arg) in ("*", r"\star", r"\ast") and out:
                out[-1] = out[-1] + r"^\star"
        elif c.isalpha():
            out.append(c)
            i += 1
        else:
            i += 1
    return [sym for sym in out if sym and sym not in IGNORED]


def chapter_uses(path: Path) -> list[Use]:
    """Every symbol use in a notebook's markdown cells, in order."""
    nb = nbformat.read(path, as_version=4)
    return [Use(sym, index, span) for index, cell in enumerate(nb.cells)
            if cell.cell_type == "markdown"
            for span in math_spans(cell.source) for sym in symbols_in(span)]


def first_uses(path: Path) -> dict[str, Use]:
    """Symbol -> its first use in the chapter."""
    seen: dict[str, Use] = {}
    for use in chapter_uses(path):
        seen.setdefault(use.symbol, use)
    return seen


@dataclass(frozen=True)
class Row:
    """One row of the notation table."""

    symbols: tuple[str, ...]
    cell: str
    meaning: str
    chapter: str
    line: int


def notation_rows(page: Path = NOTATION_PAGE) -> list[Row]:
    """Parse the table of book/notation.md: | symbol(s) | meaning | chapter |.

    Raises:
        FileNotFoundError: the page does not exist.
        ValueError: a row has no maths in its first column, or not three columns.
    """
    if not page.exists():
        raise FileNotFoundError(f"{page} not found: the notation page is the table the test checks")
    rows = []
    for n, line in enumerate(page.read_text().splitlines(), start=1):
        if not line.startswith("|") or re.match(r"^\|[\s:|-]+\|$", line):
            continue
        cols = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cols and cols[0].lower() == "symbol":
            continue
        if len(cols) != 3:
            raise ValueError(f"{page.name} line {n}: expected 3 columns (symbol | meaning | "
                             f"chapter), found {len(cols)}: {line!r}")
        syms = tuple(dict.fromkeys(s for span in math_spans(cols[0]) for s in symbols_in(span)))
        if not syms:
            raise ValueError(f"{page.name} line {n}: no $...$ symbol in the first column: {line!r}")
        rows.append(Row(syms, cols[0], cols[1], cols[2], n))
    return rows


def listed_symbols(page: Path = NOTATION_PAGE) -> set[str]:
    """Every normalised symbol the notation table lists."""
    return {s for row in notation_rows(page) for s in row.symbols}


def missing(path: Path, page: Path = NOTATION_PAGE) -> dict[str, Use]:
    """Symbols the chapter uses that the notation page does not list (first use of each)."""
    listed = listed_symbols(page)
    return {sym: use for sym, use in first_uses(path).items() if sym not in listed}


def chapters(book: Path = ROOT / "book") -> list[Path]:
    """The chapter notebooks, book/NN-*.ipynb, in order."""
    return list(course.chapter_notebooks(book).values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="list every symbol, not just missing ones")
    args = parser.parse_args(argv)
    bad = 0
    for path in chapters():
        uses = first_uses(path) if args.all else missing(path)
        bad += 0 if args.all else len(uses)
        print(f"{path.name}: {len(uses)} {'symbols' if args.all else 'missing'}")
        for sym, use in uses.items():
            print(f"  {sym:<24} cell {use.cell:>3}: ${' '.join(use.math.split())[:70]}$")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
