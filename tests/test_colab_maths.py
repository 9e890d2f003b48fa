"""Colab renders a notebook's maths with its own MathJax, without the book's _config.yml: a
macro defined only there (\\R, \\E) is an undefined control sequence in Colab (issue 19). The
book's notebooks and their Colab edition (colab/) are checked."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _config_macros() -> set[str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return set(config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"])


def test_no_notebook_uses_a_macro_only_the_book_build_defines():
    macros = _config_macros()
    assert macros  # the test would pass vacuously without them
    pattern = re.compile(r"\\(" + "|".join(sorted(macros)) + r")(?![A-Za-z])")
    found = []
    paths = sorted((ROOT / "book").rglob("*.ipynb")) + sorted((ROOT / "colab").glob("*.ipynb"))
    assert any(p.parent.name == "colab" for p in paths), "no Colab edition (make colab)"
    for path in paths:
        for k, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "markdown":
                found += [f"{path.name} cell {k}: \\{m}" for m in pattern.findall("".join(cell["source"]))]
    assert not found, ("write \\mathbb{R} / \\mathbb{E} in notebooks (Colab does not read "
                       f"_config.yml's macros): {found}")
