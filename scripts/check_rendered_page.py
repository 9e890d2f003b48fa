"""Check a built book page in headless Chromium: figures shown, maths typeset, no errors.

    python scripts/check_rendered_page.py _build/html/book/01-the-puzzle.html --screenshot ch1.png

Loads the page twice in headless Chromium (``/usr/bin/chromium``; ``apt-get install chromium``),
giving MathJax a virtual-time budget to typeset: once for a full-page screenshot, once to dump
the rendered DOM, which must have (1) at least one notebook-output <img> whose file exists,
each with alt text, (2) typeset maths (``mjx-container`` elements, no raw TeX left, no MathJax errors), (3) no error
outputs or tracebacks and (4) a title. Prints a report; exits 1 with the reasons if a check fails.
Offline, MathJax must be served from the build itself (see ``mathjax_path`` in _config.yml).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=15000"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
RAW_TEX = ("\\(", "\\[", "$$")


def find_chromium(given: str | None) -> str:
    """Path of the Chromium binary, or exit with how to install it."""
    for cand in (given, os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if cand and Path(cand).is_file():
            return cand
    hint = ("check_rendered_page: Chromium not found; install it (Debian: "
            "`apt-get install -y chromium`) or pass --chromium PATH.")
    if os.environ.get("REQUIRE_BROWSER", "") in ("", "0"):
        # A contributor without a browser still gets a green `make test`; CI sets REQUIRE_BROWSER=1.
        print(hint + " Skipping the rendered-page check (set REQUIRE_BROWSER=1 to make it fail).")
        sys.exit(0)
    sys.exit(hint)


def run_chromium(chromium: str, url: str, extra: list[str], timeout: int = 180) -> str:
    """Run headless Chromium once on ``url`` with a fresh profile; return its stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"check_rendered_page: Chromium failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


class PageScan(HTMLParser):
    """Collects what the checks need from the rendered DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []  # (tag, class attribute) of open elements
        self.title, self.mjx, self.mjx_errors = "", 0, 0
        self.output_imgs: list[str] = []  # src of <img> inside a cell output
        self.output_imgs_without_alt: list[str] = []  # ... whose alt text is missing or empty
        self.other_imgs: list[str] = []
        self.error_elements: list[str] = []
        self.raw_math: list[str] = []
        self.traceback_text = False

    def _inside(self, word: str) -> bool:
        return any(word in cls for _, cls in self.stack)

    def _inside_tag(self, tag: str) -> bool:
        return any(t == tag for t, _ in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        cls = attrs.get("class") or ""
        if tag == "mjx-container":
            self.mjx += 1
        if tag == "mjx-merror":
            self.mjx_errors += 1
        if "output_error" in cls or "traceback" in cls:
            self.error_elements.append(f"<{tag} class={cls!r}>")
        if tag == "img":
            src = attrs.get("src") or ""
            in_output = self._inside("cell_output") or self._inside("output")
            (self.output_imgs if in_output else self.other_imgs).append(src)
            if in_output and not (attrs.get("alt") or "").strip():
                self.output_imgs_without_alt.append(src)
        if tag not in VOID:
            self.stack.append((tag, cls))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "title" and self._inside_tag("head"):
            self.title += data
        if "Traceback (most recent call last)" in data:
            self.traceback_text = True
        in_math = any(c.split() and "math" in c.split() for _, c in self.stack)
        if in_math and not any(t.startswith("mjx-") for t, _ in self.stack):
            if any(tok in data for tok in RAW_TEX) or data.strip().startswith("$"):
                self.raw_math.append(data.strip()[:60])


def image_exists(page: Path, src: str) -> bool:
    """True if ``src`` (relative to the page, or file://) names an existing non-empty file."""
    if not src:
        return False
    parts = urlsplit(src)
    if parts.scheme == "data":
        return len(src) > 40
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
    elif parts.scheme:
        return False  # remote image: not from the notebook outputs
    else:
        path = page.parent / unquote(parts.path)
    return path.is_file() and path.stat().st_size > 0


def check_dom(page: Path, dom: str) -> tuple[list[str], list[str]]:
    """Return (report lines, failure reasons) for the dumped DOM of ``page``."""
    scan = PageScan()
    scan.feed(dom)
    report, fail = [], []
    report.append(f"title: {scan.title.strip()!r}")
    if not scan.title.strip():
        fail.append("the page has no <title>")
    good = [s for s in scan.output_imgs if image_exists(page, s)]
    report.append(f"notebook output images: {len(scan.output_imgs)} ({len(good)} found on disk)")
    if not good:
        fail.append("no notebook-output <img> whose file exists (did the figures' cells run?)")
    missing = [s for s in scan.output_imgs if s not in good]
    if missing:
        fail.append(f"output images missing on disk: {missing[:5]}")
    report.append(f"output images without alt text: {len(scan.output_imgs_without_alt)}")
    if scan.output_imgs_without_alt:
        fail.append(f"{len(scan.output_imgs_without_alt)} output image(s) without alt text, e.g. "
                    f"{scan.output_imgs_without_alt[:2]}: give the drawing cell the metadata "
                    '{"mystnb": {"image": {"alt": "..."}}} (tests/test_alt_text.py)')
    report.append(f"typeset maths (mjx-container): {scan.mjx}")
    if scan.mjx == 0:
        fail.append("no maths typeset (no mjx-container): MathJax did not load or run; offline it "
                    "must be served from the build (mathjax_path)")
    if scan.raw_math:
        fail.append(f"{len(scan.raw_math)} maths element(s) left as raw TeX, e.g. {scan.raw_math[:3]}")
    if scan.mjx_errors:
        fail.append(f"{scan.mjx_errors} MathJax error(s) (mjx-merror): check the TeX")
    if scan.error_elements or scan.traceback_text:
        fail.append(f"error output on the page: {scan.error_elements[:3]}"
                    + (" and a 'Traceback (most recent call last)'" if scan.traceback_text else ""))
    report.append(f"error outputs: {len(scan.error_elements) + scan.traceback_text}")
    return report, fail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=Path, help="built HTML page, e.g. _build/html/book/01-x.html")
    ap.add_argument("--screenshot", type=Path, help="write a full-page PNG screenshot here")
    ap.add_argument("--chromium", help="Chromium binary (default /usr/bin/chromium)")
    ap.add_argument("--dump", type=Path, help="also save the rendered DOM here")
    args = ap.parse_args(argv)

    page = args.page.resolve()
    if not page.is_file():
        sys.exit(f"check_rendered_page: no such page {page}; build the book first.")
    chromium, url = find_chromium(args.chromium), page.as_uri()
    fail = []
    if args.screenshot:
        shot = args.screenshot.resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.unlink(missing_ok=True)
        run_chromium(chromium, url, [f"--screenshot={shot}", "--window-size=1280,4000"])
        if not shot.is_file() or shot.stat().st_size < 10_000:
            fail.append(f"screenshot {shot} missing or nearly empty")
    dom = run_chromium(chromium, url, ["--dump-dom", "--window-size=1280,4000"])
    if args.dump:
        args.dump.write_text(dom)
    report, dom_fail = check_dom(page, dom)
    fail += dom_fail
    print(f"Rendered-page check of {page}")
    for line in report + ([f"screenshot: {args.screenshot}"] if args.screenshot else []):
        print(f"  {line}")
    if fail:
        print("FAILED:", *fail, sep="\n  - ")
        return 1
    print("OK: figures, typeset maths, no errors.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
