"""Tag the commit that releases helpers/meta.py's version, so that the Colab pins resolve.

    python scripts/tag_release.py             # tag HEAD v<version> and push it, unless it exists
    python scripts/tag_release.py --dry-run   # say what it would do, change nothing

Every chapter's install cell, its "Open in Colab" link and the results fetch name the release
``helpers.meta.RELEASE`` (``make stamp`` writes it): a Colab reader's notebook resolves only once
that tag is on the repository. The publishing workflow (``.github/workflows/book.yml``, job
``release``) runs this after the book has built, so the first commit on ``main`` that carries a new
version becomes that release. A tag that exists (here or on ``origin``) is never moved, because a
course's notebooks pin it: to release a later commit, bump ``VERSION`` in ``helpers/meta.py`` (and
the package version, ``tests/test_colab_install.py`` keeps them equal), then run ``make stamp``.

Reads ``helpers/meta.py`` as a file, so it needs neither the package's dependencies nor an install.
Exit 0: tagged, or the tag exists already; 1: git failed (the message says which step).
"""

from __future__ import annotations

import argparse
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REMOTE = "origin"


def release_tag(root: Path = ROOT) -> str:
    """``RELEASE`` of ``root/helpers/meta.py`` (``v`` + the version), without importing ``helpers``."""
    return runpy.run_path(str(root / "helpers" / "meta.py"))["RELEASE"]


def git(repo: Path, *args: str) -> str:
    """Run ``git args`` in ``repo``; its stdout. Raises ``SystemExit`` naming the command on failure."""
    try:
        done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"tag_release: `git {' '.join(args)}` failed in {repo}: "
                         f"{err.stderr.strip() or err}") from err
    return done.stdout.strip()


def has_remote(repo: Path) -> bool:
    return REMOTE in git(repo, "remote").split()


def existing_commit(repo: Path, tag: str, remote: bool) -> str | None:
    """The commit ``tag`` points at, locally or (``remote``) on ``origin``; None if neither."""
    local = subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}"],
                           cwd=repo, capture_output=True, text=True)
    if local.returncode == 0:
        return local.stdout.strip()
    if not remote:
        return None
    # `^{}` lines give an annotated tag's commit; a lightweight tag has only its own line.
    lines = git(repo, "ls-remote", "--tags", REMOTE, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}").splitlines()
    refs = {ref: sha for sha, ref in (line.split("\t") for line in lines)}
    return refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")


def tag_release(repo: Path = ROOT, dry_run: bool = False) -> str:
    """Tag HEAD of ``repo`` with its ``RELEASE`` and push the tag to ``origin``; what was done."""
    tag = release_tag(repo)
    head = git(repo, "rev-parse", "HEAD")
    remote = has_remote(repo)
    at = existing_commit(repo, tag, remote)
    if at is not None:
        where = "this commit" if at == head else f"{at[:12]}, not this commit ({head[:12]})"
        return (f"{tag} exists already, at {where}; left as it is (a release is never moved). "
                "To release this commit, bump VERSION in helpers/meta.py and run `make stamp`.")
    if dry_run:
        return f"would tag {head[:12]} {tag}" + (f" and push it to {REMOTE}" if remote else "")
    git(repo, "tag", "-a", tag, "-m", f"Release {tag}: the version helpers/meta.py names")
    if not remote:
        return f"tagged {head[:12]} {tag} (no remote {REMOTE!r}: push it with `git push {REMOTE} {tag}`)"
    git(repo, "push", REMOTE, f"refs/tags/{tag}")
    return f"tagged {head[:12]} {tag} and pushed it to {REMOTE}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="say what it would do, change nothing")
    ap.add_argument("--repo", type=Path, default=ROOT, help="the checkout (default: this one)")
    args = ap.parse_args(argv)
    print(tag_release(args.repo, dry_run=args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
