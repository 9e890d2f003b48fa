"""A chapter run as a Colab student runs it: a fresh virtual environment (torch and the other
dependencies preinstalled, the book's repository absent), the book's package installed from a
built wheel, the chapter copied to a folder outside the repository and run at `smoke`.

Then, in the same environment at the `cpu` profile, Chapter 3's lookup finds its committed
result through the pinned-version path: fetched from `<BOOK_RESULTS_URL>/<RELEASE>/results/...`
(a `file://` copy of the repository's committed file) and verified by the manifest the wheel
ships, without computing.

About 30-40 s on 2 cores (it builds the wheel, with setuptools from PyPI); BOOK_COLAB_STANDIN=0
skips it.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from helpers import meta

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "03-when-lower-layers-win.ipynb"  # among the quickest at smoke

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("BOOK_COLAB_STANDIN", "1") == "0", reason="BOOK_COLAB_STANDIN=0")]


def sh(*cmd, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kw)
    assert result.returncode == 0, f"{cmd}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def test_chapter_runs_in_a_fresh_environment_from_the_wheel(tmp_path):
    dist, venv, work = tmp_path / "dist", tmp_path / "colab-venv", tmp_path / "content"
    src = tmp_path / "src"  # the package's files only, so the build writes nothing into ROOT
    shutil.copytree(ROOT / "helpers", src / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src)
    wheel = next(dist.glob("projection_head_book-*.whl"))
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # Install the wheel with this environment's pip into the fresh one (no dependencies: Colab
    # has them), before the preinstalled packages become visible, so nothing else is touched.
    site = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    sh(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", "--no-compile",
       "--target", site, wheel)
    # "Preinstalled": this environment's packages, as a plain path (its .pth files, among them
    # the editable install of the repository, are not run).
    (site / "zz_preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work.mkdir()
    nb = nbformat.read(CHAPTER, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import helpers, json; print('BOOK-HELPERS', json.dumps([helpers.__file__, helpers.__version__]))"))
    nbformat.write(nb, work / CHAPTER.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOK_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(BOOK_PROFILE="smoke", HOME=str(tmp_path / "home"), MPLBACKEND="Agg")
    run = ("import nbformat, nbclient, sys; nb = nbformat.read(sys.argv[1], as_version=4); "
           "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3', "
           "resources={'metadata': {'path': '.'}}).execute(); nbformat.write(nb, sys.argv[1])")
    sh(python, "-c", run, CHAPTER.name, cwd=work, env=env)
    done = nbformat.read(work / CHAPTER.name, as_version=4)
    text = "".join(o.get("text", "") for o in done.cells[-1].outputs)
    where, version = json.loads(text.split("BOOK-HELPERS", 1)[1])
    assert Path(where).is_relative_to(venv), f"helpers came from {where}, not the installed wheel"
    assert not Path(where).is_relative_to(ROOT)
    errors = [o for c in done.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    cache = tmp_path / "home" / ".cache" / "projection-head-book" / "results"
    assert cache.is_dir()

    # The committed cpu result, served at the release as raw.githubusercontent.com would.
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_manifest
    committed = [rel for rel in make_manifest.committed_results() if rel.startswith("lower_layer/cpu-")]
    assert len(committed) == 1, committed
    served = tmp_path / "repo" / meta.RELEASE / "results" / committed[0]
    served.parent.mkdir(parents=True)
    shutil.copy(ROOT / "results" / committed[0], served)
    env.update(BOOK_PROFILE="cpu", BOOK_RESULTS_URL=(tmp_path / "repo").as_uri())
    lookup = ("import json; from helpers.results import load_or_compute\n"
              "def compute(cfg, seed): raise SystemExit('computed instead of fetching')\n"
              "r = load_or_compute('lower_layer', compute)\n"
              "print('BOOK-RESULT', json.dumps([str(r.path), r.loaded, r.stale]))")
    out = sh(python, "-c", lookup, cwd=work, env=env).stdout
    assert f"fetched the committed result results/{committed[0]}" in out
    path, loaded, stale = json.loads(out.split("BOOK-RESULT", 1)[1])
    assert loaded and stale is None and Path(path) == cache / committed[0]
    assert (cache / committed[0]).read_bytes() == (ROOT / "results" / committed[0]).read_bytes()
