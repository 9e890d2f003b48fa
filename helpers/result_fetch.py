"""Committed results for a reader without the repository (Colab): fetched at the pinned release.

Used by :mod:`helpers.results` when the package runs outside a checkout of the book (installed
from the release tag, so ``results/`` is not next to it). The package ships a manifest,
``helpers/results_manifest.json`` (written by ``make manifest``)::

    {"release": "v0.1.0", "files": {"puzzle/cpu-shapes-seed0-<key>.json": "<sha256 of the bytes>"}}

listing each result committed under ``results/`` with the checksum of its bytes. When a lookup
misses a file the manifest lists, :func:`fetch_committed` downloads it from
``<base>/<release>/results/<experiment>/<file>`` (``base`` is the repository's raw-file address,
or ``$BOOK_RESULTS_URL``, which may be a ``file://`` URL), checks the bytes against the manifest
*before* writing anything, and writes them atomically into the results folder; the normal
verification of :mod:`helpers.results` then reads them like any stored result. Bytes that do not
match are never written (a loud warning says so) and the result is computed instead; without a
network one line says the same. ``BOOK_RECOMPUTE=1`` skips every lookup, so nothing is fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import warnings
from functools import lru_cache
from pathlib import Path

from helpers import meta
from helpers.result_files import atomic_target

ENV_URL = "BOOK_RESULTS_URL"
MANIFEST = Path(__file__).with_name("results_manifest.json")
TIMEOUT_S = 10  # per file: a slow network must not hold a chapter up for long
MAX_BYTES = 64 * 2**20  # a result is kilobytes to a few MB; anything far bigger is not one


def raw_base(repo_url: str = meta.REPO_URL) -> str:
    """The raw-file address of the repository: ``https://github.com/o/r`` ->
    ``https://raw.githubusercontent.com/o/r``, or ``$BOOK_RESULTS_URL`` when set.

    Raises:
        ValueError: ``repo_url`` is not a ``https://github.com/<owner>/<repo>`` address (then
            set ``BOOK_RESULTS_URL``).
    """
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL].rstrip("/")
    prefix = "https://github.com/"
    parts = repo_url.removeprefix(prefix).strip("/").split("/")
    if not repo_url.startswith(prefix) or len(parts) != 2 or not all(parts):
        raise ValueError(f"cannot derive a raw-file address from REPO_URL {repo_url!r} (not "
                         f"{prefix}<owner>/<repo>); set {ENV_URL} to the base holding "
                         "<release>/results/...")
    return f"https://raw.githubusercontent.com/{parts[0]}/{parts[1]}"


def file_url(relpath: str, release: str) -> str:
    """Where the committed ``results/<relpath>`` of ``release`` is: ``<base>/<release>/results/<relpath>``."""
    return f"{raw_base()}/{release}/results/{relpath}"


@lru_cache(maxsize=4)
def _read_manifest(path: Path, mtime_ns: int) -> tuple[str, dict]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("release"), str) \
            or not isinstance(doc.get("files"), dict):
        raise ValueError(f"{path} is not a results manifest ({{'release': str, 'files': {{...}}}}); "
                         "run `make manifest` in the book's repository")
    return doc["release"], dict(doc["files"])


def load_manifest(path: Path | None = None) -> tuple[str, dict[str, str]]:
    """``(release, {relpath: sha256})`` of the shipped manifest; ``("", {})`` when there is none.

    Raises:
        ValueError: a manifest that is not one (the package was built from a broken checkout).
    """
    path = Path(path or MANIFEST)
    if not path.is_file():
        return "", {}
    return _read_manifest(path, path.stat().st_mtime_ns)


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (https or file)
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise OSError(f"more than {MAX_BYTES // 2**20} MB, not a result file")
    return data


def fetch_committed(relpath: str, target: Path) -> bool:
    """Fetch the committed result ``relpath`` (``<experiment>/<file>.json``) to ``target``.

    Returns True when verified bytes were written to ``target``; False when the manifest does
    not list ``relpath`` (silently: nothing committed answers this lookup) or when the fetch
    failed or did not verify (after one line, or a warning, saying the result is computed
    instead). Never raises for a network or checksum problem: the caller computes.
    """
    release, files = load_manifest()
    expected = files.get(relpath)
    if expected is None:
        return False
    url = file_url(relpath, release)
    try:
        data = _download(url)
    except (OSError, ValueError) as err:  # URLError/HTTPError/timeouts are OSErrors
        why = getattr(err, "reason", None) or err
        print(f"could not fetch the committed result results/{relpath} of {release} from {url} "
              f"({why}); computing it instead")
        return False
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        warnings.warn(f"downloaded results/{relpath} from {url}, but its sha256 is {got} and "
                      f"the manifest of {release} lists {expected}: the file is not the "
                      "committed one (changed on the server or in transit). It was NOT used or "
                      "saved; computing the result instead.", RuntimeWarning, stacklevel=2)
        return False
    try:
        with atomic_target(target) as tmp:
            tmp.write_bytes(data)
    except OSError as err:
        print(f"fetched results/{relpath} but could not save it to {target} ({err}); "
              "computing it instead")
        return False
    print(f"fetched the committed result results/{relpath} from {url} (sha256 verified)")
    return True
