"""Cached results with provenance: compute once, load when the inputs match, never trust a bad file.

A result is one JSON file ``results/<experiment>/<profile>-<data>-seed<seed>-<key>.json``::

    {"format": 2, "key": ..., "experiment": ..., "config": {...}, "payload": {...},
     "provenance": {profile, data_source, device, seed, versions, git_commit, code_version,
                    wall_time_s, date_utc},
     "sha256": ...}

``key`` hashes what determines the numbers (experiment, profile, data source, seed, config);
it does not hash the commit, so editing prose does not force a retrain. ``sha256`` covers the
whole document (config, payload and provenance), so an edited caption field is caught like an
edited number. A file that cannot be trusted (bytes that are not UTF-8, JSON that does not
parse, a missing or mistyped field, a key that differs from its name or from its own config
and provenance, a checksum that does not match) is moved aside to a unique
``*.corrupt-<time>-<random>`` name with a warning, and the result is recomputed: it is never
used silently.

Chapters call :func:`load_or_compute`. Outside the ``smoke`` profile, when the caller asks for
its profile's own config (the chapter's call), it first looks for a committed ``paper`` or
``gpu`` result of the same experiment (their configs come from the experiment's ``CONFIGS``
through :mod:`helpers.profiles`, so a changed config no longer matches) and shows that instead
of training on a laptop. A custom config is looked up as given, never answered by another
config's result.

**Results of older code.** Provenance records ``code_version``: the ``helpers`` package version
and the experiment module's ``CODE_VERSION`` (bump it when a change alters the numbers). A
stored result whose code version differs from the running code is *stale*. A stale result of
the caller's own profile is recomputed (the caller can: it is the size it asked for). A stale
committed ``paper`` / ``gpu`` result cannot be recomputed on a laptop (hours on a datacenter
GPU), so it is shown only when no current result exists, marked: :attr:`Result.stale` says
why, the loading line and every caption (:meth:`Result.describe`) say "computed by an older
version of the code", and ``python -m helpers.run --list`` lists it as stale.

**Concurrency** (:mod:`helpers.result_files`). Writes go to a unique temporary file in the
target folder, then an atomic ``os.replace``; loads read the file once and tolerate it vanishing
or changing meanwhile; a quarantine moves aside only the damaged file it read, never a good one
written since.

**Outside a checkout** (Colab: the package installed from the release, no ``results/`` next to
it), a lookup that misses a result committed at the release fetches it from the repository
(:mod:`helpers.result_fetch`), verified by the checksum the package ships, so the reader sees
the committed numbers without retraining; ``BOOK_RECOMPUTE=1`` recomputes instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import json
import math
import numbers
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from helpers.profiles import PROFILE_NAMES, Profile, get_profile
from helpers.result_files import ENV_DIR, ResultsDirError  # noqa: F401 (part of this API)
from helpers.result_fetch import fetch_committed
from helpers.result_files import atomic_write, check_writable, quarantine, read_with_identity
from helpers.runtime import device_name, git_commit, versions

ENV_RECOMPUTE = "BOOK_RECOMPUTE"
BIGGER_PROFILES = ("paper", "gpu")  # best first: what a reader's page may show instead
FORMAT = 2  # 2: the checksum covers the whole document, provenance has code_version
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("", "0", "false", "no", "off", "n", "f")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # one path part: no separators, no '..'


class CorruptResultError(RuntimeError):
    """A cached result file exists but cannot be trusted."""


@dataclass
class Result:
    """A computed or loaded result. ``payload`` holds the numbers; ``provenance`` how they came.

    ``stale`` is None for a result of the running code, else why it is not (a committed result
    of an older code version, shown because nothing current exists).
    """

    payload: dict
    provenance: dict
    config: dict
    path: Path
    loaded: bool
    stale: str | None = None

    def describe(self) -> str:
        """One line for a figure caption: profile, data, device, seed(s), and staleness."""
        p = self.provenance
        line = (f"profile {p['profile']} | data: {p['data_source']} | device: {p['device']} | "
                f"seed {p['seed']}")
        return line + (f" | computed by an older version of the code ({p['code_version']})"
                       if self.stale else "")


def recompute_requested() -> bool:
    """``$BOOK_RECOMPUTE`` as a boolean: 1/true/yes/on recompute, unset/0/false/no/off do not.

    Raises:
        ValueError: any other value (a typo must not silently recompute, or silently not).
    """
    raw = os.environ.get(ENV_RECOMPUTE, "")
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{ENV_RECOMPUTE}={raw!r} is neither true nor false: set it to 1 (or "
                     f"{'/'.join(_TRUE[1:4])}) to recompute every result, or to 0 (or "
                     f"{'/'.join(_FALSE[2:5])}), or unset it, to use stored results")


def checkout_root() -> Path | None:
    """The book's checkout this package runs from (the folder with ``_toc.yml``), or None when
    it is installed (Colab: from the release tag, without ``results/``)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "_toc.yml").exists() else None


def results_dir() -> Path:
    """``$BOOK_RESULTS_DIR``, else ``results/`` of the book's checkout, else a user cache."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    root = checkout_root()
    if root is not None:
        return root / "results"
    return Path.home() / ".cache" / "projection-head-book" / "results"


def display_path(path: Path) -> str:
    """``path`` as a chapter prints it: from the results folder's name on (``results/puzzle/...``),
    never the absolute path of the machine that built the page; a path outside it by its name."""
    path = Path(path)
    folder = results_dir()
    for base in (folder, folder.resolve()):
        try:
            return (Path(folder.name) / path.relative_to(base)).as_posix()
        except ValueError:
            continue
    return path.name


def code_version(experiment: str) -> str:
    """The version of the code that computes ``experiment``'s numbers.

    ``helpers <__version__>, <experiment> v<CODE_VERSION>``, where ``CODE_VERSION`` is an int
    the module ``helpers.experiments.<experiment>`` may declare (0 when it declares none, or
    has no module): bump it when a change to the experiment alters its numbers, and bump
    ``helpers.__version__`` when shared code does.
    """
    import helpers

    declared = 0
    name = f"helpers.experiments.{experiment}"
    with contextlib.suppress(ImportError, ValueError):
        if importlib.util.find_spec(name) is not None:
            declared = getattr(importlib.import_module(name), "CODE_VERSION", 0)
    return f"helpers {helpers.__version__}, {experiment} v{declared}"


def to_jsonable(obj: Any) -> Any:
    """Convert numpy / torch values and dataclasses to plain JSON types (NaN -> None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "detach"):  # torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _canonical(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"))


def _check_name(what: str, value) -> str:
    """One part of a result path: a plain name, so it cannot leave the results folder."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string (it names the result's file), got "
                        f"{type(value).__name__} {value!r}")
    if not _NAME.fullmatch(value) or ".." in value:
        raise ValueError(f"{what} {value!r} cannot name a result file: use letters, digits and "
                         "'_', '.', '+', '-' (not starting with '.', no '..' or path separators), "
                         "e.g. 'cifar10' or 'synthetic-features'")
    return value


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def result_key(experiment: str, profile: str, data_source: str, seed: int, config: Any) -> str:
    """Hash of everything that determines the numbers (16 hex digits)."""
    blob = _canonical({"experiment": experiment, "profile": profile, "data": data_source,
                       "seed": seed, "config": config})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_path(experiment: str, profile: str, data_source: str, seed: int, config: Any) -> Path:
    """``results_dir()/<experiment>/<profile>-<data_source>-seed<seed>-<key>.json``.

    Raises:
        TypeError / ValueError: a part that is not a plain name (``'../x'``, ``'a/b'``), or a
            seed that is not a non-negative int.
    """
    _check_name("experiment", experiment)
    _check_name("profile", profile)
    _check_name("data_source", data_source)
    seed = _check_seed(seed)
    key = result_key(experiment, profile, data_source, seed, config)
    return results_dir() / experiment / f"{profile}-{data_source}-seed{seed}-{key}.json"


def _document_sha256(doc: dict) -> str:
    """Checksum of a result document: every field but the checksum itself."""
    return hashlib.sha256(_canonical({k: v for k, v in doc.items() if k != "sha256"})
                          .encode()).hexdigest()


def _document(experiment: str, key: str, config: Any, payload: dict, provenance: dict) -> dict:
    doc = {"format": FORMAT, "key": key, "experiment": experiment, "config": to_jsonable(config),
           "payload": to_jsonable(payload), "provenance": to_jsonable(provenance)}
    doc["sha256"] = _document_sha256(doc)
    return doc


def save_result(path: Path, experiment: str, key: str, config: Any, payload: dict,
                provenance: dict) -> str:
    """Write one result atomically (unique temp file + rename); returns the JSON text written.

    An interrupted run never leaves half a file, and concurrent writers of one key never
    fail: the last rename wins, and every version is a whole, valid result.
    """
    text = json.dumps(_document(experiment, key, config, payload, provenance), indent=1,
                      sort_keys=True, allow_nan=False)
    atomic_write(Path(path), text)
    return text


def _provenance(experiment: str, profile: str, data_source: str, seed: int,
                wall_time_s: float) -> dict:
    return {"profile": profile, "data_source": data_source, "device": device_name(),
            "seed": seed, "versions": versions(), "git_commit": git_commit(),
            "code_version": code_version(experiment), "wall_time_s": wall_time_s,
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _bad(path, why: str) -> CorruptResultError:
    return CorruptResultError(f"{path}: not a valid result file ({why})")


def _check_provenance(prov, path) -> None:
    if not isinstance(prov, dict):
        raise _bad(path, f"provenance is a {type(prov).__name__}, not a dict")
    for field, kinds in (("profile", str), ("data_source", str), ("device", str),
                         ("versions", dict), ("code_version", str), ("date_utc", str),
                         ("git_commit", (str, type(None)))):
        if field not in prov:
            raise _bad(path, f"provenance has no {field!r}")
        if not isinstance(prov[field], kinds):
            raise _bad(path, f"provenance {field!r} is {prov[field]!r}")
    if prov["profile"] not in PROFILE_NAMES:
        raise _bad(path, f"provenance profile {prov['profile']!r} is not one of {PROFILE_NAMES}")
    seed, wall = prov.get("seed"), prov.get("wall_time_s")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _bad(path, f"provenance seed is {seed!r}, not an int >= 0")
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not math.isfinite(wall) \
            or wall < 0:
        raise _bad(path, f"provenance wall_time_s is {wall!r}, not a number of seconds >= 0")
    if not all(isinstance(v, str) for v in prov["versions"].values()):
        raise _bad(path, "provenance versions are not all strings")


def _parse(raw: bytes, path, expected_key: str) -> Result:
    """Verify the bytes of one result file. Raises CorruptResultError for anything amiss."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise _bad(path, f"not UTF-8: {err}") from err
    except json.JSONDecodeError as err:
        raise _bad(path, f"not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise _bad(path, f"a JSON {type(doc).__name__}, not an object")
    if doc.get("format") != FORMAT:
        raise _bad(path, f"format {doc.get('format')!r}, this code reads format {FORMAT} "
                         "(written by other code)")
    for field, kind in (("key", str), ("experiment", str), ("config", (dict, list, str, int,
                        float, type(None))), ("payload", dict), ("provenance", dict),
                        ("sha256", str)):
        if field not in doc:
            raise _bad(path, f"no {field!r}")
        if not isinstance(doc[field], kind):
            raise _bad(path, f"{field!r} is a {type(doc[field]).__name__}")
    if doc["sha256"] != _document_sha256(doc):
        raise CorruptResultError(f"{path}: contents do not match their sha256 (edited or "
                                 "damaged)")
    if doc["key"] != expected_key:
        raise CorruptResultError(f"{path}: key {doc['key']} does not match the expected "
                                 f"{expected_key}")
    prov = doc["provenance"]
    _check_provenance(prov, path)
    # The key must follow from the document's own experiment, provenance and config: a
    # re-sealed file whose caption fields or config were changed is caught here.
    own = result_key(doc["experiment"], prov["profile"], prov["data_source"], prov["seed"],
                     doc["config"])
    if own != doc["key"]:
        raise CorruptResultError(f"{path}: its experiment, profile, data source, seed and config "
                                 f"hash to {own}, not to its key {doc['key']} (edited)")
    return Result(doc["payload"], prov, doc["config"], Path(path), loaded=True)


def load_result(path: Path, expected_key: str) -> Result:
    """Read and verify one result file (its code version is not compared: see load_stored).

    Raises:
        FileNotFoundError: no such file.
        CorruptResultError: bytes that are not UTF-8 JSON, missing or mistyped fields, a wrong
            key, or a checksum that does not match.
    """
    raw, _ = read_with_identity(Path(path))
    return _parse(raw, path, expected_key)


def _try_load(path: Path, key: str) -> Result | None:
    """The verified result at ``path``; None when absent or damaged (then moved aside).

    Outside a checkout, an absent file that the shipped manifest lists is first fetched from
    the release (:mod:`helpers.result_fetch`: checked against the manifest's sha256 before it
    is written), then verified here like any stored file.
    """
    if checkout_root() is None and not path.exists():
        fetch_committed(f"{path.parent.name}/{path.name}", path)
    try:
        raw, read_id = read_with_identity(path)
    except (FileNotFoundError, NotADirectoryError):  # none there (or no folder to hold one)
        return None
    try:
        return _parse(raw, path, key)
    except CorruptResultError as err:
        quarantine(path, err, read_id)
        return None


def _stale_reason(found: Result, experiment: str) -> str | None:
    now = code_version(experiment)
    then = found.provenance["code_version"]
    if then == now:
        return None
    return f"computed by {then}; the running code is {now}"


def _candidates(experiment: str, prof: Profile, seed: int, config: Any, data_source,
                use_committed: bool) -> list:
    """``(profile name, config, data source)`` to look up, best first."""
    try:
        default = prof.config(experiment)
    except KeyError:
        default = None
    config = default if config is None else config
    if config is None:
        raise ValueError(f"no config for experiment {experiment!r} at profile {prof.name}; "
                         "pass config=...")
    own_data = data_source or getattr(config, "data")
    candidates = []
    # The committed bigger results answer the chapter's own call only: a custom config is the
    # caller's question, and only a result of exactly that config answers it.
    if use_committed and not prof.is_smoke and _canonical(config) == _canonical(default):
        for name in BIGGER_PROFILES:
            if name != prof.name:
                big = get_profile(name).config(experiment)
                candidates.append((name, big, data_source or getattr(big, "data")))
    candidates.append((prof.name, config, own_data))
    return candidates


def load_stored(experiment: str, *, profile: Profile | str | None = None, seed: int = 0,
                config: Any = None, data_source: str | None = None,
                use_committed: bool = True) -> Result | None:
    """The stored, verified result :func:`load_or_compute` would load, or None; never computes.

    Outside ``smoke`` (and with ``use_committed``), when ``config`` is the profile's own (or
    None), a stored ``paper`` or ``gpu`` result comes first, as in :func:`load_or_compute`: of
    the same data source when the caller names one (a second result of one experiment, e.g. a
    synthetic sweep next to the image run), else of that profile's own data. The first result
    of the running code wins; failing that, a committed bigger result of older code is returned
    with ``stale`` set (the caller's own stale result is not: it is to be recomputed). A damaged
    file is moved aside.

    Raises:
        TypeError / ValueError: a data source, experiment or seed that cannot name a file.
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    seed = _check_seed(seed)
    if data_source is not None:
        _check_name("data_source", data_source)
    stale_fallback = None
    for name, cfg, data in _candidates(experiment, prof, seed, config, data_source,
                                       use_committed):
        found = _try_load(result_path(experiment, name, data, seed, cfg),
                          result_key(experiment, name, data, seed, cfg))
        if found is None:
            continue
        found.stale = _stale_reason(found, experiment)
        if found.stale is None:
            return found
        if name != prof.name and stale_fallback is None:
            stale_fallback = found
    return stale_fallback


def result_state(experiment: str, profile: str, data_source: str, seed: int, config: Any) -> str:
    """What is stored for one result, for ``python -m helpers.run --list``; changes nothing.

    'computed', 'to compute', 'stale (...)' or 'damaged (...)', followed by a note when damaged
    copies were moved aside earlier.
    """
    path = result_path(experiment, profile, data_source, seed, config)
    aside = sorted(p.name for p in path.parent.glob("*.corrupt-*")
                   if p.name.startswith(path.name + ".corrupt-")) if path.parent.is_dir() else []
    note = (f"; {len(aside)} damaged cop{'y' if len(aside) == 1 else 'ies'} moved aside "
            f"({aside[-1]})" if aside else "")
    try:
        raw, _ = read_with_identity(path)
    except (FileNotFoundError, NotADirectoryError):
        return "to compute" + note
    try:
        found = _parse(raw, path, result_key(experiment, profile, data_source, seed, config))
    except CorruptResultError as err:
        why = str(err).replace(f"{path}: ", "")
        return f"damaged ({why}): running it moves the file aside and recomputes" + note
    stale = _stale_reason(found, experiment)
    if stale:
        return f"stale ({stale}): running it recomputes" + note
    return "computed" + note


def load_or_compute(experiment: str, compute: Callable[[Any, int], dict], *,
                    profile: Profile | str | None = None, seed: int = 0,
                    config: Any = None, data_source: str | None = None,
                    use_committed: bool = True, verbose: bool = True) -> Result:
    """The chapter's entry point: a verified cached result, or ``compute(config, seed)`` now.

    Args:
        experiment: name in :data:`helpers.experiments.EXPERIMENTS` (e.g. ``'puzzle'``).
        compute: ``compute(config, seed) -> dict`` of JSON-able numbers (arrays allowed).
        profile: a Profile or name; default ``get_profile()``.
        config: the experiment's config; default ``profile.config(experiment)``. A config that
            differs from the profile's is looked up as given (no committed result stands in).
        data_source: default ``config.data``; a plain name (it is part of the file name).
        use_committed: outside ``smoke``, prefer a stored ``paper``/``gpu`` result.

    Set ``BOOK_RECOMPUTE=1`` (or true/yes/on) to ignore every cache. The results folder is
    checked writable before anything is computed, so a long run never ends unable to save.

    Raises:
        ValueError: ``BOOK_RECOMPUTE`` is neither true nor false; a data source, experiment or
            seed that cannot name a file.
        ResultsDirError: the results folder cannot be written (before computing).
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    recompute = recompute_requested()
    seed = _check_seed(seed)
    config = prof.config(experiment) if config is None else config
    named_source = data_source  # None: each profile's own data
    data_source = data_source or getattr(config, "data")
    path = result_path(experiment, prof.name, data_source, seed, config)
    key = result_key(experiment, prof.name, data_source, seed, config)
    if not recompute:
        found = load_stored(experiment, profile=prof, seed=seed, config=config,
                            data_source=named_source, use_committed=use_committed)
        if found is not None:
            if verbose:
                print(f"loaded {display_path(found.path)} ({found.describe()}, "
                      f"{found.provenance['wall_time_s']:.0f} s to compute, commit "
                      f"{found.provenance.get('git_commit')})")
                if found.stale:
                    print(f"NOTE: this result was computed by an older version of the code "
                          f"({found.stale}); its numbers may differ from what the code now "
                          f"gives. Recompute it at profile {found.provenance['profile']} with "
                          f"`python -m helpers.run {experiment} --profile "
                          f"{found.provenance['profile']}`.")
            return found

    check_writable(path.parent)
    start = time.perf_counter()
    payload = compute(config, seed)
    prov = _provenance(experiment, prof.name, data_source, seed, time.perf_counter() - start)
    text = save_result(path, experiment, key, config, payload, prov)
    if verbose:
        print(f"computed in {prov['wall_time_s']:.1f} s; saved {display_path(path)}")
    # Parse what was written (not the file, which a concurrent process may be replacing), so a
    # fresh result and a loaded one are the same JSON numbers.
    fresh = _parse(text.encode("utf-8"), path, key)
    fresh.loaded = False
    return fresh
