"""Write the Colab edition: every chapter with its MyST markup turned into plain Markdown.

    python scripts/make_colab.py [--out colab] [--book book]     # make colab
    python scripts/make_colab.py --check                          # exit 1 if colab/ is out of date

Colab renders CommonMark and MathJax, not MyST: a directive fence shows as a code block and a
role as literal text. For each ``book/NN-*.ipynb`` this writes ``OUT/<same name>`` with

* ``{exercise}`` -> a bold line ``**Exercise 1.2 - title**`` (chapter.number, numbered in the
  order of the notebook) and its body; ``{solution}`` and a gated ``{solution-start}`` ...
  ``{solution-end}`` -> ``**Solution to Exercise 1.2 - title**`` and the body (solutions are kept,
  as the book shows them); ``{admonition}`` / ``{note}`` / ``{tip}`` ... -> a ``> **Title**``
  blockquote; ``{include}`` of a file -> its text; directive options (``:class:``...) dropped;
* ``{cite:t}`` -> "Xue et al. (2024)", ``{cite:p}`` / ``{cite}`` -> "(Xue et al., 2024)" from
  ``book/references.bib``; ``{doc}`` -> a link to that page of the online book; ``{ref}`` /
  ``{numref}`` / ``{term}`` -> their text; ``{math}`` -> ``$...$``; ``(label)=`` targets removed;
* outputs cleared; the stamped "Open in Colab" line replaced by a banner saying the file is
  generated. Code cells are unchanged, so the install cell stays the first code cell.

Markup it does not know (another directive or role, an unclosed fence, a citation key missing
from the bibliography) is refused with an error naming the notebook and cell; nothing is written.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import stamp_notebooks  # noqa: E402  (the Colab line, the owner/repo of helpers/meta.py)

ADMONITIONS = ("note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso")
OPEN = re.compile(r"^([ \t]*)(`{3,}|:{3,})\{([\w-]+)\}[ \t]*(.*?)[ \t]*$")
OPTION = re.compile(r"^[ \t]*:([\w-]+):(.*)$")
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
TARGET = re.compile(r"^\([\w.:-]+\)=[ \t]*\n?", re.M)
CHAPTER = re.compile(r"^(\d+)-")


class MystError(ValueError):
    """Markup the converter does not know; nothing is written."""


# --- the bibliography ------------------------------------------------------------------------

_ACCENTS = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303"}


def _plain(tex: str) -> str:
    """BibTeX text as plain text: accents (``{\\'e}``) composed, braces dropped."""
    tex = re.sub(r"\\(['\"`^~])\{?([A-Za-z])\}?",
                 lambda m: unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)]), tex)
    return re.sub(r"\s+", " ", tex.replace("{", "").replace("}", "")).strip()


def _braced(text: str, i: int) -> tuple[str, int]:
    """The text inside the braces opening at ``text[i]``, and the index after the closing one."""
    depth, start = 0, i
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[start + 1:j], j + 1
    raise MystError(f"unbalanced braces in the bibliography from {text[start:start + 60]!r}")


def parse_bib(text: str) -> dict[str, dict[str, str]]:
    """``{key: {field: value}}`` of a BibTeX file (braced or quoted values, or bare numbers)."""
    entries = {}
    for m in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        if m.group(1).lower() in ("comment", "string", "preamble"):
            continue
        body, _ = _braced(text, text.index("{", m.start()))
        fields, i = {}, body.index(",") + 1
        for f in re.finditer(r"(\w+)\s*=\s*", body):
            if f.start() < i:
                continue
            j = f.end()
            if body[j] == "{":
                value, i = _braced(body, j)
            elif body[j] == '"':
                end = body.index('"', j + 1)
                value, i = body[j + 1:end], end + 1
            else:
                value = re.match(r"[^,\s]+", body[j:]).group(0)
                i = j + len(value)
            fields[f.group(1).lower()] = _plain(value)
        entries[m.group(2)] = fields
    return entries


def _surname(author: str) -> str:
    author = author.strip()
    return author.split(",")[0].strip() if "," in author else author.split()[-1]


def cite_parts(entry: dict, key: str) -> tuple[str, str]:
    """(``"Xue et al."``, ``"2024"``), as the book's author_year style names a work."""
    if "author" not in entry or "year" not in entry:
        raise MystError(f"references.bib entry {key!r} lacks an author or a year")
    names = [_surname(a) for a in re.split(r"\s+and\s+", entry["author"])]
    who = names[0] if len(names) == 1 else (f"{names[0]} and {names[1]}" if len(names) == 2
                                             else f"{names[0]} et al.")
    return who, entry["year"]


# --- roles -------------------------------------------------------------------------------------

def page_url(target: str) -> str:
    """The online book's page ``book/<target>.html`` (GitHub Pages of the repository)."""
    owner, repo = stamp_notebooks._owner_repo().split("/")
    return f"https://{owner.lower()}.github.io/{repo}/book/{target}.html"


def page_title(book: Path, target: str) -> str:
    """The first ``# `` heading of ``book/<target>.ipynb`` or ``.md`` (what ``{doc}`` shows)."""
    for path in (book / f"{target}.ipynb", book / f"{target}.md"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".ipynb":
                text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells
                                 if c.cell_type == "markdown")
            m = re.search(r"^#[ \t]+(.+?)[ \t]*$", text, re.M)
            if m:
                return m.group(1)
    raise MystError(f"{{doc}}`{target}`: no book/{target}.ipynb or .md with a '# ' title")


def _text_and_target(content: str) -> tuple[str | None, str]:
    m = re.fullmatch(r"\s*(.*?)\s*<([^>]+)>\s*", content, re.S)
    return (m.group(1), m.group(2)) if m else (None, content.strip())


def convert_roles(text: str, bib: dict, book: Path) -> str:
    """Every ``{role}`content``` in ``text`` as plain Markdown (see the module docstring)."""

    def one(m):
        role, content = m.group(1), m.group(2)
        if role in ("cite", "cite:p", "cite:t"):
            keys = [k.strip() for k in content.split(",") if k.strip()]
            missing = [k for k in keys if k not in bib]
            if missing:
                raise MystError(f"{{{role}}}: {missing} not in book/references.bib")
            parts = [cite_parts(bib[k], k) for k in keys]
            if role == "cite:t":
                return ", ".join(f"{who} ({year})" for who, year in parts)
            return "(" + "; ".join(f"{who}, {year}" for who, year in parts) + ")"
        if role == "doc":
            shown, target = _text_and_target(content)
            return f"[{shown or page_title(book, target)}]({page_url(target)})"
        if role in ("ref", "numref", "term"):
            shown, target = _text_and_target(content)
            return shown or target
        if role in ("math", "eq"):
            return f"${content}$"
        raise MystError(f"unknown role {{{role}}}`{content}`: teach scripts/make_colab.py to write it")

    return ROLE.sub(one, text)


# --- directives --------------------------------------------------------------------------------

class Chapter:
    """What the conversion of one notebook needs: its number, exercises and sources."""

    def __init__(self, number: str, book: Path, bib: dict):
        self.number, self.book, self.bib = number, book, bib
        self.exercises: dict[str, str] = {}  # label -> "Exercise 1.2 - title"
        self.count = 0

    def exercise(self, title: str, options: dict) -> str:
        self.count += 1
        name = "Exercise" if "nonumber" in options else f"Exercise {self.number}.{self.count}"
        name += f" - {title}" if title else ""
        if options.get("label"):
            self.exercises[options["label"]] = name
        return name

    def solution_of(self, label: str) -> str:
        if label not in self.exercises:
            raise MystError(f"a solution to {label!r}, which names no exercise above it")
        return f"Solution to {self.exercises[label]}"


def _blockquote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def _render(ch: Chapter, name: str, arg: str, options: dict, body: str) -> str:
    if name == "exercise":
        return f"**{ch.exercise(arg, options)}**\n\n{body}".rstrip()
    if name == "solution":
        return f"**{ch.solution_of(arg)}**\n\n{body}".rstrip()
    if name == "solution-start":
        return f"**{ch.solution_of(arg)}**"
    if name == "solution-end":
        return "*(End of the solution.)*"
    if name == "admonition" or name in ADMONITIONS:
        kind = "" if name == "admonition" else name.capitalize()
        title = ": ".join(t for t in (kind, arg) if t) or "Note"
        return _blockquote(f"**{title}**\n\n{body}".rstrip())
    if name == "include":
        if options:
            raise MystError(f"{{include}} {arg} with options {sorted(options)}: not supported")
        path = ch.book / arg
        if not path.is_file():
            raise MystError(f"{{include}} {arg}: no such file {path}")
        # The fragment's own "generated, do not edit" comment is about the fragment, not this page.
        text = re.sub(r"<!--.*?-->\n?", "", path.read_text(encoding="utf-8"), flags=re.S)
        return convert(text.strip("\n"), ch)
    raise MystError(f"unknown directive {{{name}}}: teach scripts/make_colab.py to write it")


def convert(text: str, ch: Chapter) -> str:
    """One markdown cell's MyST as plain Markdown (directives, nested ones too, then roles)."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, fence, name, arg = m.groups()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), None)
        if end is None:
            raise MystError(f"unclosed {fence}{{{name}}}: no closing {fence}")
        j, options = i + 1, {}
        while j < end and (o := OPTION.match(lines[j])):
            options[o.group(1)] = o.group(2).strip()
            j += 1
        body = convert("\n".join(lines[j:end]).strip("\n"), ch)
        rendered = _render(ch, name, arg, options, body)
        out.extend(indent + line if line else line for line in rendered.split("\n"))
        i = end + 1
    text = TARGET.sub("", "\n".join(out))
    return re.sub(r"\n{3,}", "\n\n", convert_roles(text, ch.bib, ch.book))


def colab_edition(nb, name: str, book: Path, bib: dict, source_name: str):
    """The Colab edition of notebook ``nb`` (file ``name``); the input is not modified.

    Raises:
        MystError: markup the converter does not know, naming ``source_name`` and the cell.
    """
    nb = nbformat.from_dict(nb)  # deep copy
    m = CHAPTER.match(name)
    ch = Chapter(str(int(m.group(1))) if m else name.removesuffix(".ipynb"), book, bib)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = stamp_notebooks.COLAB_LINE.sub("", cell.source)
            try:
                cell.source = convert(text, ch).strip("\n")
            except MystError as err:
                raise MystError(f"{source_name}, cell {i}: {err}") from None
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    target = name.removesuffix(".ipynb")
    banner = nbformat.v4.new_markdown_cell(
        f"*Colab edition of {source_name}, generated by scripts/make_colab.py - do not edit (edit "
        f"the book's notebook and run `make colab`). The same chapter in the online book: "
        f"[{page_title(book, target)}]({page_url(target)}).*", metadata={"tags": ["colab-banner"]})
    banner.id = "colab-banner"
    nb.cells = [banner] + nb.cells
    nbformat.validate(nb)
    return nb


def editions(book: Path) -> dict[str, str]:
    """``{file name: notebook JSON}`` of the Colab edition of every ``book/NN-*.ipynb``."""
    bib = parse_bib((book / "references.bib").read_text(encoding="utf-8"))
    out = {}
    for path in sorted(book.glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        source = f"{book.name}/{path.name}"
        out[path.name] = nbformat.writes(colab_edition(nb, path.name, book, bib, source)) + "\n"
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "colab", help="output folder (default colab/)")
    ap.add_argument("--book", type=Path, default=ROOT / "book", help="folder of chapter notebooks")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if OUT is out of date")
    args = ap.parse_args(argv)
    try:
        wanted = editions(args.book)
    except MystError as err:
        print(f"make_colab: {err}\nNothing was written.", file=sys.stderr)
        return 1
    have = {p.name for p in args.out.glob("*.ipynb")} if args.out.is_dir() else set()
    stale = sorted(n for n, text in wanted.items()
                   if not (args.out / n).is_file() or (args.out / n).read_text(encoding="utf-8") != text)
    extra = sorted(have - set(wanted))
    if args.check:
        if stale or extra:
            print(f"{args.out} is out of date (run `make colab`): differs {stale}, no chapter {extra}")
            return 1
        print(f"{args.out} is the Colab edition of {args.book}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n in stale:
        (args.out / n).write_text(wanted[n], encoding="utf-8")
        print(f"wrote {args.out / n}")
    for n in extra:
        (args.out / n).unlink()
        print(f"removed {args.out / n} (no such chapter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
