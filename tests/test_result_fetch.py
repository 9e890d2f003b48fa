"""Committed results reach a reader without the repository (Colab): fetched at the release,
verified by the shipped manifest's sha256, never used when they do not match (issue 19)."""

import hashlib
import json
import sys
from pathlib import Path

import pytest

from helpers import meta, result_fetch, results

from results_fixtures import Counter, tmp_results  # noqa: F401  (tests/results_fixtures.py)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_manifest  # noqa: E402


def test_manifest_lists_every_committed_result_with_its_checksum():
    shipped = json.loads(result_fetch.MANIFEST.read_text())
    assert shipped == make_manifest.build(), "helpers/results_manifest.json is out of date: run `make manifest`"
    assert shipped["release"] == meta.RELEASE
    assert shipped["files"], "no committed result listed (the check would pass vacuously)"
    assert not any(rel.startswith("bench/") for rel in shipped["files"])


def test_manifest_is_shipped_in_the_package():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'helpers = ["results_manifest.json"]' in text


def test_raw_base_from_repo_url(monkeypatch):
    monkeypatch.delenv(result_fetch.ENV_URL, raising=False)
    assert result_fetch.raw_base("https://github.com/o/r") == "https://raw.githubusercontent.com/o/r"
    assert result_fetch.file_url("puzzle/x.json", "v1.2.3").endswith("/v1.2.3/results/puzzle/x.json")
    with pytest.raises(ValueError, match=result_fetch.ENV_URL):
        result_fetch.raw_base("https://gitlab.com/o/r")


@pytest.fixture
def release(tmp_path, monkeypatch):
    """A 'repository' served at file://<tmp>/repo holding one committed cpu result of the
    puzzle at the release, a manifest listing it, and a package that runs outside a checkout."""
    served = tmp_path / "repo" / meta.RELEASE / "results"
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(served))
    committed = results.load_or_compute("puzzle", Counter(0.75), profile="cpu", verbose=False)
    rel = f"puzzle/{committed.path.name}"
    manifest = tmp_path / "results_manifest.json"
    manifest.write_text(json.dumps({"release": meta.RELEASE, "files": {
        rel: hashlib.sha256(committed.path.read_bytes()).hexdigest()}}))
    monkeypatch.setattr(result_fetch, "MANIFEST", manifest)
    monkeypatch.setenv(result_fetch.ENV_URL, (tmp_path / "repo").as_uri())
    cache = tmp_path / "cache"
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(cache))
    monkeypatch.setattr(results, "checkout_root", lambda: None)
    return committed, cache / rel, served / rel


def test_a_committed_result_is_fetched_verified_and_used(release, capsys):
    committed, cached, _ = release
    compute = Counter(0.1)
    got = results.load_or_compute("puzzle", compute, profile="cpu")
    assert compute.calls == 0 and got.loaded
    assert got.path == cached and cached.read_bytes() == committed.path.read_bytes()
    assert got.payload == committed.payload and got.payload["acc"] == [0.75, 0.25]
    assert "fetched the committed result results/puzzle/" in capsys.readouterr().out
    # Then it is an ordinary stored result: verified by results.py, not fetched again.
    assert results.load_result(cached, cached.stem.rsplit("-", 1)[1]).payload == committed.payload
    compute_again = Counter(0.1)
    results.load_or_compute("puzzle", compute_again, profile="cpu")
    assert compute_again.calls == 0 and "fetched" not in capsys.readouterr().out


def test_a_file_with_another_checksum_is_refused_and_computed(release, capsys):
    committed, cached, served = release
    doc = json.loads(served.read_text())
    doc["payload"]["acc"][0] = 0.99  # not the committed bytes: refused before results.py sees it
    served.write_text(json.dumps(doc))
    compute = Counter(0.1)
    with pytest.warns(RuntimeWarning, match="NOT used or saved; computing"):
        got = results.load_or_compute("puzzle", compute, profile="cpu", verbose=False)
    assert compute.calls == 1 and not got.loaded and got.payload["acc"] == [0.1, 0.25]
    assert json.loads(cached.read_text())["payload"]["acc"] == [0.1, 0.25]  # the computed one


def test_no_network_says_so_in_one_line_and_computes(release, monkeypatch, capsys):
    monkeypatch.setenv(result_fetch.ENV_URL, "http://127.0.0.1:9/nowhere")  # discard port: refused
    compute = Counter(0.1)
    got = results.load_or_compute("puzzle", compute, profile="cpu", verbose=False)
    assert compute.calls == 1 and not got.loaded
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "could not fetch" in ln]
    assert len(lines) == 1 and "computing it instead" in lines[0]


def test_recompute_fetches_nothing(release, monkeypatch, capsys):
    _, cached, _ = release
    monkeypatch.setenv("BOOK_RECOMPUTE", "1")
    compute = Counter(0.1)
    results.load_or_compute("puzzle", compute, profile="cpu", verbose=False)
    assert compute.calls == 1 and "fetched" not in capsys.readouterr().out


def test_a_checkout_never_fetches(release, monkeypatch, capsys):
    monkeypatch.setattr(results, "checkout_root", lambda: ROOT)
    monkeypatch.setattr(result_fetch, "_download", lambda url: pytest.fail(f"fetched {url}"))
    compute = Counter(0.1)
    results.load_or_compute("puzzle", compute, profile="cpu", verbose=False)
    assert compute.calls == 1


def test_a_result_the_manifest_does_not_list_is_not_fetched(release, monkeypatch):
    monkeypatch.setattr(result_fetch, "_download", lambda url: pytest.fail(f"fetched {url}"))
    compute = Counter(0.1)
    results.load_or_compute("puzzle", compute, profile="cpu", seed=1, verbose=False)
    assert compute.calls == 1
