"""Measure how long each chapter notebook takes to run, and record it with its provenance.

    python scripts/time_chapters.py --profile smoke                 # every chapter, nothing cached
    python scripts/time_chapters.py --profile cpu --chapters 02 03  # some chapters
    python scripts/time_chapters.py --profile cpu --use-cache       # reuse stored results

Each chapter runs top to bottom in a fresh Jupyter kernel (nbclient), in ``book/`` as the book
build runs it, with ``BOOK_PROFILE`` set. Without ``--use-cache`` every chapter gets its own
empty temporary ``BOOK_RESULTS_DIR`` (stored and committed results are looked up there, so none
is found), and the time is what a reader who computes the chapter alone waits, kernel start
included (a chapter that reuses another chapter's experiment computes it too). Each measurement goes
into ``book/_data/timings.json`` with the machine (CPU model, cores, GPU), the date, the git
commit (and whether the tree had uncommitted changes), the 1-minute load average before and
after (a busy machine makes the time an upper bound), and whether stored results were used. A
re-measurement on the same machine replaces the old one. The page fragments are then
regenerated (``scripts/course.py``'s ``write_fragments``). The notebooks themselves are not modified;
``--keep-outputs DIR`` saves the executed copies there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import course  # noqa: E402  (scripts/course.py, next to this file)
from helpers import runtime  # noqa: E402


# Thread limits in force (a shared machine may cap them); recorded with every measurement.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux) or platform (elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> dict:
    """CPU model, the cores this process may use, GPU name (or None), OS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {"cpu": cpu_model(), "cores": cores, "gpu": gpu, "os": platform.platform(terse=True),
            "python": platform.python_version()}


def git_state() -> tuple[str, bool]:
    """(commit, whether tracked files have uncommitted changes); ('unknown', False) outside git."""
    commit = runtime.git_commit() or "unknown"
    return commit.removesuffix("+dirty"), commit.endswith("+dirty")


def run_notebook(path: Path, timeout: int, keep: Path | None) -> tuple[float, str]:
    """Execute ``path`` in a fresh kernel with cwd book/; return (seconds, 'ok' or the error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(path.parent)}})
    start, status = time.perf_counter(), "ok"
    try:
        client.execute()
    except CellExecutionError as err:
        status = f"{err.ename} in a cell"
    except Exception as err:  # a timeout or a dead kernel: record it, do not hide it
        status = type(err).__name__
    seconds = time.perf_counter() - start
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / path.name)
    return seconds, status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, choices=course.PROFILES)
    parser.add_argument("--chapters", nargs="*", help="two-digit numbers (default: every chapter)")
    parser.add_argument("--use-cache", action="store_true",
                        help="reuse stored results (BOOK_RESULTS_DIR or results/) instead of recomputing")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument("--out", type=Path, default=course.TIMINGS)
    parser.add_argument("--book", type=Path, default=course.BOOK)
    parser.add_argument("--keep-outputs", type=Path, default=None, metavar="DIR")
    parser.add_argument("--keep-results", type=Path, default=None, metavar="DIR",
                        help="compute each chapter into a fresh DIR/<number> (kept afterwards, e.g. "
                             "to commit the results) instead of a temporary folder")
    args = parser.parse_args(argv)
    if args.use_cache and args.keep_results:
        parser.error("--keep-results computes from scratch; it cannot be combined with --use-cache")

    notebooks = course.chapter_notebooks(args.book)
    chosen = args.chapters or list(notebooks)
    unknown = [c for c in chosen if c not in notebooks]
    if unknown:
        parser.error(f"no chapter notebook for {unknown} in {args.book} (have {list(notebooks)})")
    record = course.load_timings(args.out)
    commit, dirty = git_state()
    here = machine()
    saved = dict(os.environ)  # the kernels inherit the environment; restore it afterwards
    try:
        failures = _measure(args, notebooks, chosen, record, commit, dirty, here)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if args.book.resolve() == course.BOOK.resolve() and args.out.resolve() == course.TIMINGS.resolve():
        for path in course.write_fragments(args.book):
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failures else 0


def _measure(args, notebooks, chosen, record, commit, dirty, here) -> int:
    """Run each chosen chapter, add its measurement, save the record; return the failures."""
    os.environ["BOOK_PROFILE"] = args.profile
    failures = 0
    for number in chosen:
        with tempfile.TemporaryDirectory(prefix=f"timing-{number}-") as tmp:
            if args.keep_results:
                tmp = args.keep_results.resolve() / number
                if tmp.exists() and any(tmp.iterdir()):
                    raise SystemExit(f"{tmp} is not empty: --keep-results needs a fresh folder "
                                     "so the chapter is timed from scratch")
                tmp.mkdir(parents=True, exist_ok=True)
            if not args.use_cache:
                os.environ["BOOK_RESULTS_DIR"] = str(tmp)
            load_before = os.getloadavg()[0]
            seconds, status = run_notebook(notebooks[number], args.timeout, args.keep_outputs)
            load_after = os.getloadavg()[0]
        failures += status != "ok"
        print(f"{notebooks[number].name}: {course.format_seconds(seconds)} at profile "
              f"{args.profile} ({status}; load {load_before:.1f} -> {load_after:.1f})", flush=True)
        course.add_measurement(record, {
            "chapter": number, "notebook": f"book/{notebooks[number].name}", "profile": args.profile,
            "seconds": round(seconds, 1), "status": status, "used_cache": args.use_cache,
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": commit, "git_dirty": dirty, "machine": here,
            "load_average_1min": [round(load_before, 2), round(load_after, 2)],
            "threads": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        })
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")  # after each chapter
    return failures


if __name__ == "__main__":
    sys.exit(main())
