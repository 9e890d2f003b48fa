"""scripts/tag_release.py tags the commit that carries a new release, pushes it, never moves it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import meta

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import tag_release  # noqa: E402


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def checkout(tmp_path):
    """A clone of a bare ``origin`` holding the book's helpers/meta.py, one commit."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    origin, repo = tmp_path / "origin.git", tmp_path / "repo"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(repo))
    (repo / "helpers").mkdir()
    shutil.copy(ROOT / "helpers" / "meta.py", repo / "helpers" / "meta.py")
    git(repo, "add", "helpers/meta.py")
    commit(repo, "first")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "user.email", "t@t")
    return repo, origin


def test_reads_the_release_without_importing_helpers():
    assert tag_release.release_tag() == meta.RELEASE


def test_tags_head_and_pushes_then_never_moves_the_tag(checkout):
    repo, origin = checkout
    head = git(repo, "rev-parse", "HEAD")
    assert "would tag" in tag_release.tag_release(repo, dry_run=True)
    assert git(repo, "tag") == "" and git(origin, "tag") == ""  # the dry run changed nothing
    said = tag_release.tag_release(repo)
    assert said.startswith(f"tagged {head[:12]} {meta.RELEASE}") and "pushed" in said
    assert git(origin, "rev-parse", f"{meta.RELEASE}^{{commit}}") == head
    assert "exists already, at this commit" in tag_release.tag_release(repo)
    later = commit(repo, "second")
    said = tag_release.tag_release(repo)
    assert f"at {head[:12]}, not this commit ({later[:12]})" in said and "bump VERSION" in said
    assert git(origin, "rev-parse", f"{meta.RELEASE}^{{commit}}") == head


@pytest.mark.parametrize("annotated", [True, False])
def test_a_tag_only_on_origin_counts_as_existing(checkout, tmp_path, annotated):
    repo, origin = checkout
    first = commit(repo, "pushed")
    git(repo, "push", "-q", "origin", "HEAD")
    other = tmp_path / "other"  # someone else's clone tags what was pushed
    git(tmp_path, "clone", "-q", str(origin), str(other))
    assert git(other, "rev-parse", "HEAD") == first
    flags = ["-a", "-m", "by hand"] if annotated else []
    git(other, "-c", "user.name=t", "-c", "user.email=t@t", "tag", *flags, meta.RELEASE)
    git(other, "push", "-q", "origin", f"refs/tags/{meta.RELEASE}")
    commit(repo, "local only")
    said = tag_release.tag_release(repo)
    assert f"exists already, at {first[:12]}" in said
    assert git(repo, "tag") == ""  # nothing tagged locally


def test_without_a_remote_it_tags_and_says_how_to_push(checkout):
    repo, _ = checkout
    git(repo, "remote", "remove", "origin")
    assert tag_release.tag_release(repo, dry_run=True) == f"would tag {git(repo, 'rev-parse', 'HEAD')[:12]} {meta.RELEASE}"
    said = tag_release.tag_release(repo)
    assert "no remote 'origin'" in said and f"git push origin {meta.RELEASE}" in said
    assert git(repo, "tag") == meta.RELEASE


def test_a_git_failure_names_the_command(tmp_path):
    (tmp_path / "helpers").mkdir()
    shutil.copy(ROOT / "helpers" / "meta.py", tmp_path / "helpers" / "meta.py")
    with pytest.raises(SystemExit, match="git rev-parse HEAD"):
        tag_release.tag_release(tmp_path)  # not a git checkout
