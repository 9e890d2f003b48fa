"""Write helpers/results_manifest.json: each committed result's sha256, for readers without the repo.

    python scripts/make_manifest.py            # (re)write the manifest (make manifest)
    python scripts/make_manifest.py --check    # change nothing; exit 1 saying what disagrees

The package ships the manifest, so a reader who installs it from the release tag (Colab) fetches
a committed result from the repository at that tag and trusts it only if its bytes have the
listed checksum (:mod:`helpers.result_fetch`). Listed: the files git tracks under ``results/``
that :func:`helpers.results.load_or_compute` reads (``<experiment>/<profile>-<data>-seed<N>-<key>.json``);
not the README, nor the speed reports under ``results/bench/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from helpers import meta  # noqa: E402
from helpers.profiles import PROFILE_NAMES  # noqa: E402
from helpers.result_fetch import MANIFEST  # noqa: E402

RESULT = re.compile(rf"results/([A-Za-z0-9_]+)/(?:{'|'.join(PROFILE_NAMES)})-[^/]+-seed\d+-[0-9a-f]{{16}}\.json")


def committed_results(root: Path = ROOT) -> list[str]:
    """``<experiment>/<file>.json`` of every result git tracks under ``root/results``, sorted.

    Raises:
        SystemExit: git is missing or ``root`` is not a git checkout (the manifest must list
            what is committed, not what happens to lie in the folder).
    """
    try:
        out = subprocess.run(["git", "ls-files", "-z", "results"], cwd=root, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise SystemExit(f"make_manifest: cannot list the committed results with `git ls-files` "
                         f"in {root} ({err}); run it in a git checkout of the book") from err
    return sorted(p.removeprefix("results/") for p in out.split("\0") if RESULT.fullmatch(p))


def build(root: Path = ROOT) -> dict:
    """The manifest: ``{"release": meta.RELEASE, "files": {relpath: sha256 of the bytes}}``."""
    files = {rel: hashlib.sha256((root / "results" / rel).read_bytes()).hexdigest()
             for rel in committed_results(root)}
    return {"release": meta.RELEASE, "files": files}


def render(manifest: dict) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = ap.parse_args(argv)
    text = render(build())
    old = MANIFEST.read_text(encoding="utf-8") if MANIFEST.is_file() else None
    if text == old:
        print(f"{MANIFEST.relative_to(ROOT)} lists the committed results")
        return 0
    if args.check:
        print(f"{MANIFEST.relative_to(ROOT)} is out of date: run `make manifest`")
        return 1
    MANIFEST.write_text(text, encoding="utf-8")
    print(f"wrote {MANIFEST.relative_to(ROOT)} ({len(json.loads(text)['files'])} results)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
