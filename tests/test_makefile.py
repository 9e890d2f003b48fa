"""The Makefile stops before installing anything when the Python is too old."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fake_python(folder: Path, version: str) -> Path:
    """A 'python' that reports ``version`` and does nothing else (it must not be asked to)."""
    path = folder / f"python{version}"
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
@pytest.mark.parametrize("version", ["3.9", "2.7"])
def test_unsupported_python_stops_before_installing(tmp_path, version):
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "-C", str(ROOT), "setup", f"PYTHON={fake_python(tmp_path, version)}",
                             f"VENV={venv}"], capture_output=True, text=True, timeout=60)
    needed = re.search(r'^requires-python = ">=([0-9.]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"Python >= {needed} is needed" in out and f"is Python {version}" in out
    assert not venv.exists(), "a virtual environment was created before the version check"
