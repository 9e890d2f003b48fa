"""Cached results with provenance: compute once, load when the inputs match, never trust a bad file.

A result is one JSON file ``results/<experiment>/<profile>-<data>-seed<seed>-<key>.json``::

    {"key": ..., "experiment": ..., "config": {...}, "payload": {...},
     "payload_sha256": ..., "provenance": {profile, data_source, device, seed, versions,
                                           git_commit, wall_time_s, date_utc}}

``key`` hashes what determines the numbers (experiment, profile, data source, seed, config);
it does not hash the commit, so editing prose does not force a retrain. A file whose JSON does
not parse, whose key differs from its name, or whose payload hash does not match is moved aside
to ``*.corrupt`` with a warning, and the result is recomputed: it is never used silently.

Chapters call :func:`load_or_compute`. Outside the ``smoke`` profile it first looks for a
committed ``paper`` or ``gpu`` result of the same experiment (their configs come from the
experiment's ``CONFIGS`` through :mod:`helpers.profiles`, so a changed config no longer matches) and shows that instead of
training on a laptop.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from helpers.profiles import Profile, get_profile
from helpers.runtime import device_name, git_commit, versions

ENV_DIR = "BOOK_RESULTS_DIR"
ENV_RECOMPUTE = "BOOK_RECOMPUTE"
BIGGER_PROFILES = ("paper", "gpu")  # best first: what a reader's page may show instead


class CorruptResultError(RuntimeError):
    """A cached result file exists but cannot be trusted."""


@dataclass
class Result:
    """A computed or loaded result. ``payload`` holds the numbers; ``provenance`` how they came."""

    payload: dict
    provenance: dict
    config: dict
    path: Path
    loaded: bool

    def describe(self) -> str:
        """One line for a figure caption: profile, data, device, seed(s)."""
        p = self.provenance
        return (f"profile {p['profile']} | data: {p['data_source']} | device: {p['device']} | "
                f"seed {p['seed']}")


def results_dir() -> Path:
    """``$BOOK_RESULTS_DIR``, else ``results/`` of the book's checkout, else a user cache."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    root = Path(__file__).resolve().parent.parent
    if (root / "_toc.yml").exists():
        return root / "results"
    return Path.home() / ".cache" / "projection-head-book" / "results"


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


def result_key(experiment: str, profile: str, data_source: str, seed: int, config: Any) -> str:
    """Hash of everything that determines the numbers (16 hex digits)."""
    blob = _canonical({"experiment": experiment, "profile": profile, "data": data_source,
                       "seed": seed, "config": config})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def result_path(experiment: str, profile: str, data_source: str, seed: int, config: Any) -> Path:
    key = result_key(experiment, profile, data_source, seed, config)
    return results_dir() / experiment / f"{profile}-{data_source}-seed{seed}-{key}.json"


def save_result(path: Path, experiment: str, key: str, config: Any, payload: dict,
                provenance: dict) -> None:
    """Write atomically (temp file + rename), so an interrupted run never leaves half a file."""
    payload = to_jsonable(payload)
    doc = {"key": key, "experiment": experiment, "config": to_jsonable(config),
           "payload": payload, "payload_sha256": hashlib.sha256(_canonical(payload).encode()).hexdigest(),
           "provenance": to_jsonable(provenance)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False))
    os.replace(tmp, path)


def load_result(path: Path, expected_key: str) -> Result:
    """Read and verify one result file.

    Raises:
        FileNotFoundError: no such file.
        CorruptResultError: unparsable JSON, missing fields, wrong key or payload hash.
    """
    text = Path(path).read_text()
    try:
        doc = json.loads(text)
        payload, prov, key = doc["payload"], doc["provenance"], doc["key"]
        digest = doc["payload_sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CorruptResultError(f"{path}: not a valid result file ({err})") from err
    if key != expected_key:
        raise CorruptResultError(f"{path}: key {key} does not match the expected {expected_key}")
    if hashlib.sha256(_canonical(payload).encode()).hexdigest() != digest:
        raise CorruptResultError(f"{path}: payload does not match its sha256 (edited or damaged)")
    return Result(payload, prov, doc.get("config", {}), Path(path), loaded=True)


def _quarantine(path: Path, err: Exception) -> None:
    bad = path.with_name(path.name + f".corrupt-{int(time.time())}")
    os.replace(path, bad)
    warnings.warn(f"{err}. Moved it to {bad} and recomputing; delete it once you have looked.",
                  RuntimeWarning, stacklevel=3)


def _try_load(path: Path, key: str) -> Result | None:
    if not path.exists():
        return None
    try:
        return load_result(path, key)
    except CorruptResultError as err:
        _quarantine(path, err)
        return None


def load_stored(experiment: str, *, profile: Profile | str | None = None, seed: int = 0,
                config: Any = None, data_source: str | None = None,
                use_committed: bool = True) -> Result | None:
    """The stored, verified result :func:`load_or_compute` would load, or None; never computes.

    Outside ``smoke`` (and with ``use_committed``) a stored ``paper`` or ``gpu`` result comes
    first, as in :func:`load_or_compute`: of the same data source when the caller names one
    (a second result of one experiment, e.g. a synthetic sweep next to the image run), else of
    that profile's own data. A damaged file is moved aside (and None returned).
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    config = prof.config(experiment) if config is None else config
    named_source = data_source
    data_source = data_source or getattr(config, "data")
    candidates = []
    if use_committed and not prof.is_smoke:
        for name in BIGGER_PROFILES:
            if name != prof.name:
                big = get_profile(name).config(experiment)
                candidates.append((name, big, named_source or getattr(big, "data")))
    candidates.append((prof.name, config, data_source))
    for name, cfg, data in candidates:
        found = _try_load(result_path(experiment, name, data, seed, cfg),
                          result_key(experiment, name, data, seed, cfg))
        if found is not None:
            return found
    return None


def load_or_compute(experiment: str, compute: Callable[[Any, int], dict], *,
                    profile: Profile | str | None = None, seed: int = 0,
                    config: Any = None, data_source: str | None = None,
                    use_committed: bool = True, verbose: bool = True) -> Result:
    """The chapter's entry point: a verified cached result, or ``compute(config, seed)`` now.

    Args:
        experiment: name in :data:`helpers.experiments.EXPERIMENTS` (e.g. ``'puzzle'``).
        compute: ``compute(config, seed) -> dict`` of JSON-able numbers (arrays allowed).
        profile: a Profile or name; default ``get_profile()``.
        config: the experiment's config; default ``profile.config(experiment)``.
        data_source: default ``config.data``.
        use_committed: outside ``smoke``, prefer a stored ``paper``/``gpu`` result.

    Set ``BOOK_RECOMPUTE=1`` to ignore every cache.
    """
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    config = prof.config(experiment) if config is None else config
    if os.environ.get(ENV_RECOMPUTE, "") in ("", "0"):
        found = load_stored(experiment, profile=prof, seed=seed, config=config,
                            data_source=data_source, use_committed=use_committed)
        if found is not None:
            if verbose:
                print(f"loaded {found.path.relative_to(results_dir().parent)} "
                      f"({found.describe()}, {found.provenance['wall_time_s']:.0f} s to compute"
                      f", commit {found.provenance.get('git_commit')})")
            return found

    data_source = data_source or getattr(config, "data")
    start = time.perf_counter()
    payload = compute(config, seed)
    prov = {"profile": prof.name, "data_source": data_source, "device": device_name(),
            "seed": seed, "versions": versions(), "git_commit": git_commit(),
            "wall_time_s": time.perf_counter() - start,
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = result_path(experiment, prof.name, data_source, seed, config)
    save_result(path, experiment, result_key(experiment, prof.name, data_source, seed, config),
                config, payload, prov)
    if verbose:
        print(f"computed in {prov['wall_time_s']:.1f} s; saved {path}")
    # Read back what was written, so a fresh result and a loaded one are the same JSON numbers.
    fresh = load_result(path, result_key(experiment, prof.name, data_source, seed, config))
    fresh.loaded = False
    return fresh
