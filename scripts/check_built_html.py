"""Check a built book's HTML for what a reader elsewhere must not get.

    python scripts/check_built_html.py _smoke/_build/html [--max-kib 200]

Every page (``**/*.html``, myst-nb's ``reports/`` and ``_sources/`` aside) must hold:

* no absolute path of the machine that built it (the book's folder, the home folder, the Python
  environment, or any ``/tmp/``, ``/home/``, ``/root/``, ... path): a chapter prints paths
  relative to its results folder (``helpers.results.display_path``);
* no ipywidgets state and no CDN widget scripts (require.js, the widget manager): a built page
  has no kernel, progress bars are text there, and the explorers' outputs are removed
  (``_ext/no_widget_state.py``);
* at most ``--max-kib`` KiB of HTML (figures are separate files; embedded widget state made
  Chapter 4's page 268 KiB).

Exit 1 listing each problem (page, what, an excerpt); 0 when every page passes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A path starting at a top-level folder of a Unix machine, not inside a URL ('https://x/home/')
# nor a relative path ('results/tmp/').
ABSOLUTE = re.compile(r"(?<![\w.:/~%-])/(?:tmp|home|root|work|Users|opt|usr|var|srv|mnt|private|"
                      r"runner|github|builds?|data|scratch)/[^\s\"'<>]*")
WIDGETS = {
    "ipywidgets state": "application/vnd.jupyter.widget-state+json",
    "ipywidgets view": "application/vnd.jupyter.widget-view+json",
    "widget manager script (CDN)": "@jupyter-widgets/html-manager",
    "require.js (CDN)": "require.min.js",
}
SKIP = ("reports", "_sources", "_static", "_images", "mathjax")


def machine_paths(extra: list[str] | None = None) -> list[str]:
    """Absolute folders of this machine whose appearance on a page is a leak."""
    found = {str(ROOT), str(ROOT.resolve()), sys.prefix, str(Path.home())} | set(extra or [])
    return sorted((p for p in found if p not in ("", "/")), key=len, reverse=True)


def page_problems(text: str, extra_paths: list[str] | None = None, max_kib: float = 200) -> list[str]:
    """What is wrong with one page's HTML ``text`` (empty list: nothing)."""
    problems = []
    for path in machine_paths(extra_paths):  # whole path components, not inside a URL
        m = re.search(r"(?<![\w.:/~%-])" + re.escape(path) + r"(?![\w.-])", text)
        if m:
            problems.append(f"absolute path {path!r}: ...{text[max(0, m.start() - 60):m.end() + 100]!r}...")
    for m in ABSOLUTE.finditer(text):
        problems.append(f"absolute path {m.group(0)!r}: ...{text[max(0, m.start() - 60):m.end() + 20]!r}...")
    for what, marker in WIDGETS.items():
        if marker in text:
            problems.append(f"{what} ({marker})")
    kib = len(text.encode("utf-8")) / 1024
    if kib > max_kib:
        problems.append(f"{kib:.0f} KiB of HTML (more than {max_kib:.0f})")
    return problems


def pages(html: Path) -> list[Path]:
    """The built pages under ``html`` (not myst-nb's reports, sources or static files)."""
    return sorted(p for p in html.rglob("*.html") if not set(p.relative_to(html).parts[:-1]) & set(SKIP))


def check(html: Path, max_kib: float = 200) -> list[str]:
    """Every problem of every page under ``html``, each prefixed by the page."""
    if not html.is_dir():
        raise SystemExit(f"check_built_html: {html} is not a folder (build the book first)")
    extra = [str(html.resolve().parent.parent)]  # the folder the book was built in
    out = []
    for page in pages(html):
        for problem in page_problems(page.read_text(encoding="utf-8", errors="replace"), extra, max_kib):
            out.append(f"{page.relative_to(html)}: {problem}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path, help="the built HTML folder, e.g. _build/html")
    ap.add_argument("--max-kib", type=float, default=200, help="largest page allowed, KiB (default 200)")
    args = ap.parse_args(argv)
    problems = check(args.html, args.max_kib)
    if problems:
        print(f"check_built_html: {len(problems)} problem(s):", *problems, sep="\n  ")
        return 1
    print(f"check_built_html: {len(pages(args.html))} page(s): no absolute path, no widget state or CDN widget script")
    return 0


if __name__ == "__main__":
    sys.exit(main())
