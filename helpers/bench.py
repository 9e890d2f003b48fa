"""``make bench``: how fast the book's SimCLR pipeline trains, against the common baseline.

    python -m helpers.bench            # full size: CIFAR-10-shaped data, ResNet-18, batch 512
    python -m helpers.bench --smoke    # tiny, for a CPU and the test suite (< 1 minute)
    python -m helpers.bench --smoke --seeds cpu   # what `make bench` runs on a CPU

SimCLR with the CIFAR ResNet-18 (:class:`helpers.models.ResNet18`) and a 2-layer MLP head,
two views per image, on synthetic uint8 images shaped like CIFAR-10's training set (speed does
not depend on the pixels). In one run on one device it measures three (four) set-ups:

* ``baseline fp32``: what common reference implementations do: torchvision transforms on PIL
  images in a ``DataLoader`` with one worker per CPU core and pinned memory, fp32 model;
* ``baseline bf16``: the same data path, the model under bf16 autocast (tells the gain from
  precision apart from the gain from the data path);
* ``pipeline``: the training engine's step (:class:`helpers.train.Trainer`) with data and
  augmentations on the device;
* ``pipeline compiled``: the same with ``torch.compile`` (when ``--compile``, default on CUDA).

For each: images/s (training images; each gives two views), seconds per epoch of ``n_images``
(from the timed steps' rate), achieved TFLOP/s (FLOPs of one step's forward + backward counted
by ``torch.utils.flop_counter.FlopCounterMode``), that as a fraction of the peak matmul rate
measured in the same run (a large bf16 matmul on CUDA, fp32 on a CPU), peak GPU memory, and the
images/s ratio to ``baseline fp32``.

**Seed batching** (:func:`run_seed_bench`): Chapter 1's ``cpu``-profile network and batch, K = 5
seeds trained one after the other (five runs of :func:`helpers.train.train`) against the same
five trained together in one run, with each strategy ('loop', 'stacked'); seconds per epoch of
Chapter 1's training set and the speed-up over the sequential runs, measured in the same process
(target on 2 CPU cores: >= 2.5).

A JSON with provenance goes to ``results/bench/``; a CPU or smoke run's file is named
``cpu-*``/``smoke-*`` and is ignored by git like other local results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers.augment import SIMCLR_SPEC, SimCLRAugment
from helpers.heads import MLPHead
from helpers.models import ResNet18
from helpers.models import Network
from helpers.pipeline import SpeedSettings
from helpers.runtime import device_name, get_device, git_commit, seed_everything, versions
from helpers.train import STRATEGIES, Recipe, Trainer, objective, train


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark run. Units: images, steps, channels."""

    n_images: int  # synthetic training set (CIFAR-10: 50,000); an epoch is this many images
    image_size: int  # CIFAR: 32
    width: int  # ResNet-18 width (64: the standard network)
    head_hidden: int
    head_out: int
    batch_size: int  # images per step; each gives two views
    warmup_steps: int  # not timed: DataLoader start-up, cuDNN autotuning, compilation
    timed_steps: int
    matmul_size: int  # side of the square matmul that measures the peak rate
    workers: int  # DataLoader workers of the baselines (0: os.cpu_count())


# The set-up. 40 timed steps = 20,480 images per set-up: the baseline's rate settles
# within a few steps once its workers are up (warm-up 8 steps).
FULL = BenchConfig(n_images=50_000, image_size=32, width=64, head_hidden=2048, head_out=128,
                   batch_size=512, warmup_steps=8, timed_steps=40, matmul_size=8192, workers=0)
# Code path only, for a CPU (the numbers say nothing about a GPU): < 1 minute on 2 cores.
SMOKE = BenchConfig(n_images=512, image_size=32, width=4, head_hidden=64, head_out=32,
                    batch_size=64, warmup_steps=1, timed_steps=3, matmul_size=512, workers=0)


# ---------------------------------------------------------------------- measurements


def synthetic_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``(n, 3, size, size)`` uint8 noise images, CIFAR-10-shaped (content does not change speed)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def matmul_peak_tflops(device: torch.device, size: int, repeats: int = 20) -> tuple[float, str]:
    """The device's measured matmul rate (TFLOP/s): bf16 on CUDA, fp32 on a CPU."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, device=device, dtype=dtype, generator=g)
    b = torch.randn(size, size, device=device, dtype=dtype, generator=g)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    elapsed = time.perf_counter() - start
    return 2 * size ** 3 * repeats / elapsed / 1e12, str(dtype).replace("torch.", "")


def step_flops(cfg: BenchConfig, device: torch.device) -> int:
    """FLOPs of one step's forward + backward (network and loss) at ``cfg.batch_size``."""
    from torch.utils.flop_counter import FlopCounterMode

    net = _model(cfg, device)
    v = torch.rand(2 * cfg.batch_size, 3, cfg.image_size, cfg.image_size, device=device)
    with FlopCounterMode(display=False) as counter:
        objective(net, _recipe(cfg), v, None, SpeedSettings.plain()).backward()
    return int(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(cfg, device: torch.device, seed: int = 0) -> Network:
    seed_everything(seed)
    encoder = ResNet18(width=cfg.width)
    return Network(encoder, MLPHead(encoder.out_dim, cfg.head_hidden, cfg.head_out)).to(device)


def _recipe(cfg, epochs: int = 1) -> Recipe:
    return Recipe("simclr", epochs=epochs, batch_size=cfg.batch_size, lr=1e-3, weight_decay=1e-6,
                  temperature=0.5)


def _step(cfg: BenchConfig, device: torch.device, settings: SpeedSettings) -> Trainer:
    """The engine's step for one seed; the issue's augmentation (jitter 0.4/0.4/0.4/0.1, p 0.8)."""
    augment = SimCLRAugment(size=cfg.image_size)
    gen = torch.Generator(device=device).manual_seed(0)
    return Trainer([_model(cfg, device)], _recipe(cfg), augment, [gen], settings=settings)


class _TorchvisionViews(torch.utils.data.Dataset):
    """Two torchvision-augmented views of each image, from PIL, as reference SimCLR code does."""

    def __init__(self, images: torch.Tensor, size: int):
        import torchvision.transforms as T

        self.images = images.permute(0, 2, 3, 1).numpy()  # (n, H, W, 3) for PIL
        spec = SIMCLR_SPEC  # the settings the pipeline's sampler is tested against
        self.transform = T.Compose([
            T.RandomResizedCrop(size, scale=spec["scale"], ratio=spec["ratio"]),
            T.RandomHorizontalFlip(p=spec["p_flip"]),
            T.RandomApply([T.ColorJitter(*spec["jitter"])], p=spec["p_jitter"]),
            T.RandomGrayscale(p=spec["p_gray"]), T.ToTensor()])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        img = Image.fromarray(self.images[i])
        return self.transform(img), self.transform(img)


def _time_baseline(cfg, device, images, settings, progress) -> tuple[float, Trainer]:
    workers = cfg.workers or os.cpu_count() or 1
    loader = torch.utils.data.DataLoader(
        _TorchvisionViews(images, cfg.image_size), batch_size=cfg.batch_size, shuffle=True,
        num_workers=workers, pin_memory=device.type == "cuda", drop_last=True,
        persistent_workers=workers > 0)
    step = _step(cfg, device, settings)
    need = cfg.warmup_steps + cfg.timed_steps
    batches, start = 0, None
    bar = tqdm(total=need, desc="  steps", disable=not progress, leave=False)
    while batches < need:
        for v1, v2 in loader:
            if batches == cfg.warmup_steps:
                _sync(device)
                start = time.perf_counter()
            v1 = v1.to(device, non_blocking=True)
            v2 = v2.to(device, non_blocking=True)
            step.on_views([torch.cat([v1, v2])], [None])  # the loss stays on the device
            batches += 1
            bar.update()
            if batches == need:
                break
    _sync(device)
    bar.close()
    return time.perf_counter() - start, step


def _time_pipeline(cfg, device, images, settings, progress) -> tuple[float, Trainer]:
    data = images.to(device)  # the whole set on the device, uint8
    step = _step(cfg, device, settings)
    gen = torch.Generator(device=device).manual_seed(1)
    start = None
    for i in tqdm(range(cfg.warmup_steps + cfg.timed_steps), desc="  steps", disable=not progress,
                  leave=False):
        if i == cfg.warmup_steps:
            _sync(device)
            start = time.perf_counter()
        idx = torch.randint(0, len(data), (cfg.batch_size,), device=device, generator=gen)
        step.step([data[idx]], [None])  # no .item(): the loss stays on the device
    _sync(device)
    return time.perf_counter() - start, step


def run_bench(cfg: BenchConfig, device: torch.device | str | None = None, *,
              compile: bool | None = None, progress: bool = True) -> dict:
    """Measure every set-up (see the module docstring); returns the JSON-able report."""
    device = get_device(device)
    compile = device.type == "cuda" if compile is None else compile
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest conv kernels for these shapes
    images = synthetic_images(cfg.n_images, cfg.image_size)
    peak, peak_dtype = matmul_peak_tflops(device, cfg.matmul_size)
    flops = step_flops(cfg, device)
    fast = SpeedSettings.for_device(device, compile=False)
    setups = [("baseline fp32", _time_baseline, SpeedSettings.plain()),
              ("baseline bf16", _time_baseline, replace(SpeedSettings.plain(),
                                                        amp_dtype=torch.bfloat16)),
              ("pipeline", _time_pipeline, fast)]
    if compile:
        setups.append(("pipeline compiled", _time_pipeline, replace(fast, compile=True)))
    rows = []
    for name, timer, settings in setups:
        if progress:
            print(f"{name} ...", file=sys.stderr)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        seconds, step = timer(cfg, device, images, settings, progress)
        ips = cfg.timed_steps * cfg.batch_size / seconds
        tflops = flops * cfg.timed_steps / seconds / 1e12
        rows.append({"setup": name, "settings": _settings_json(settings),
                     "compiled": bool(getattr(step._loss, "is_compiled", lambda: False)()),
                     "images_per_s": ips, "s_per_epoch": cfg.n_images / ips,
                     "tflops": tflops, "fraction_of_peak": tflops / peak,
                     "peak_memory_gib": (torch.cuda.max_memory_allocated(device) / 2 ** 30
                                         if device.type == "cuda" else None)})
    for row in rows:
        row["speedup"] = row["images_per_s"] / rows[0]["images_per_s"]
    if progress:
        print("data generation ...", file=sys.stderr)
    return {"config": asdict(cfg), "rows": rows, "data_generation": data_generation_seconds(),
            "jitter": jitter_seconds(device, n=min(cfg.n_images, 2048)),
            "flops_per_step": flops,
            "flops_per_epoch": flops * cfg.n_images / cfg.batch_size,
            "peak_tflops": peak, "peak_dtype": peak_dtype, "provenance": provenance(device, cfg)}


def _settings_json(settings: SpeedSettings) -> dict:
    return {**asdict(settings), "amp_dtype": str(settings.amp_dtype).replace("torch.", "")}


# ------------------------------------------------------------------- seed batching


@dataclass(frozen=True)
class SeedBenchConfig:
    """The seed-batching rows: K seeds of one network. Units: images, channels, steps."""

    n_seeds: int
    width: int
    head_hidden: int
    head_out: int
    batch_size: int
    n_train: int  # an epoch's images (seconds per epoch are scaled to it)
    timed_steps: int  # per set-up, after one untimed warm-up step


def seed_bench_config(smoke: bool) -> SeedBenchConfig:
    """Chapter 1's ``cpu``-profile network and batch (``--smoke``: a tiny one)."""
    if smoke:
        return SeedBenchConfig(n_seeds=5, width=2, head_hidden=16, head_out=8, batch_size=16,
                               n_train=64, timed_steps=2)
    from helpers.profiles import get_profile

    c = get_profile("cpu").config("puzzle")
    return SeedBenchConfig(n_seeds=5, width=c.width, head_hidden=c.head_hidden,
                           head_out=c.head_out, batch_size=c.batch_size, n_train=c.n_train,
                           timed_steps=4)


def _time_training(scfg: SeedBenchConfig, device, images, seeds, strategy) -> float:
    """Seconds per step of one :func:`train` run of ``seeds`` (the first step untimed)."""
    nets = [_model(scfg, device, seed=s) for s in seeds]
    recipe = _recipe(scfg, epochs=1)
    augment = SimCLRAugment(size=images.shape[-1])
    marks = []
    warm = images[:scfg.batch_size]  # one untimed step: allocations, cuDNN autotuning
    train(nets, warm, recipe, augment, seeds=seeds, device=device, progress=False,
          strategy=strategy)
    _sync(device)
    start = time.perf_counter()
    train(nets, images, recipe, augment, seeds=seeds, device=device, progress=False,
          strategy=strategy, on_epoch_end=lambda e: (_sync(device), marks.append(time.perf_counter())))
    return (marks[-1] - start) / (len(images) // scfg.batch_size)


def run_seed_bench(scfg: SeedBenchConfig, device: torch.device | str | None = None,
                   progress: bool = True) -> dict:
    """K seeds one after the other vs together ('loop', 'stacked'), same process and data."""
    device = get_device(device)
    images = synthetic_images(scfg.timed_steps * scfg.batch_size, 32, seed=1)
    seeds = list(range(scfg.n_seeds))
    steps_per_epoch = scfg.n_train // scfg.batch_size
    rows = []
    setups = [("1 seed", None), (f"{scfg.n_seeds} seeds one after the other", None)]
    setups += [(f"{scfg.n_seeds} seeds together ({s})", s) for s in STRATEGIES]
    for name, strategy in tqdm(setups, desc="seed batching", disable=not progress, leave=False):
        if name == "1 seed":
            per_step = _time_training(scfg, device, images, seeds[:1], None)
        elif strategy is None:
            per_step = sum(_time_training(scfg, device, images, [s], None) for s in seeds)
        else:
            per_step = _time_training(scfg, device, images, seeds, strategy)
        rows.append({"setup": name, "s_per_epoch": per_step * steps_per_epoch})
    sequential = rows[1]["s_per_epoch"]
    for row in rows[1:]:
        row["speedup"] = sequential / row["s_per_epoch"]
        row["vs_one_seed"] = row["s_per_epoch"] / rows[0]["s_per_epoch"]
    return {"config": asdict(scfg), "rows": rows, "target_speedup": 2.5,
            "provenance": provenance(device, None)}


def format_seed_table(report: dict) -> str:
    c = report["config"]
    lines = [f"seed batching: ResNet-18 width {c['width']} + MLP head {8 * c['width']}-"
             f"{c['head_hidden']}-{c['head_out']}, batch {c['batch_size']} x 2 views, "
             f"s/epoch of {c['n_train']} images ({c['timed_steps']} timed steps each); "
             f"target speed-up >= {report['target_speedup']:g}"]
    for r in report["rows"]:
        extra = (f"  speed-up {r['speedup']:.2f}x, {r['vs_one_seed']:.2f}x one seed's time"
                 if "speedup" in r else "")
        lines.append(f"  {r['setup']:<34} {r['s_per_epoch']:8.2f} s/epoch{extra}")
    return "\n".join(lines)


def data_generation_seconds(sizes=(32, 64), n: int = 8000) -> list[dict]:
    """Wall time to generate the procedural UrbanCars training split (``n`` images) at each size,
    on this machine's CPU (the generator is numpy; a GPU does not change it). A seed no chapter
    uses, so the generator's in-memory cache cannot answer instead."""
    from helpers.data.urbancars import make_urbancars

    out = []
    for size in sizes:
        start = time.perf_counter()
        make_urbancars("train", size=size, seed=987_654, n=n)
        out.append({"what": f"procedural UrbanCars, {n} training images, {size} px",
                    "seconds": time.perf_counter() - start})
    return out


def jitter_seconds(device: torch.device, n: int = 2048, size: int = 32, repeats: int = 3
                   ) -> list[dict]:
    """One SimCLR colour jitter of ``n`` images (Chapter 1's cpu training set: hue strength 0,
    and SimCLR's 0.1 at s = 0.5), by the batched form (16 ops and ``torch.where``, the CUDA path)
    and the indexed form (4 ops per image, the CPU path) of :func:`helpers.augment.apply_jitter`,
    timed on ``device`` in the same run; ``speedup`` is batched / indexed."""
    from helpers.augment import _apply_jitter_batched, _apply_jitter_indexed, sample_jitter_params

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size, size, generator=gen).to(device)
    out = []
    for hue in (0.0, 0.1):
        params = sample_jitter_params(n, 0.4, 0.4, 0.4, hue, generator=gen)
        params = type(params)(*(t.to(device) for t in params))
        row = {"what": f"colour jitter of {n} images of {size} px, hue strength {hue}"}
        for name, fn in (("batched", _apply_jitter_batched), ("indexed", _apply_jitter_indexed)):
            fn(x[:8], type(params)(*(t[:8] for t in params)))  # warm-up
            _sync(device)
            start = time.perf_counter()
            for _ in range(repeats):
                fn(x, params)
            _sync(device)
            row[f"{name}_s"] = (time.perf_counter() - start) / repeats
        row["speedup"] = row["batched_s"] / row["indexed_s"]
        out.append(row)
    return out


def provenance(device: torch.device, cfg: BenchConfig | None) -> dict:
    workers = (cfg.workers if cfg is not None else 0) or os.cpu_count()
    return {"device": device_name(device), "device_type": device.type,
            "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "dataloader_workers": workers, "versions": versions(),
            "git_commit": git_commit(),
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# ---------------------------------------------------------------------------- output


def format_table(report: dict, markdown: bool = False) -> str:
    """The printed table: one row per set-up (markdown for the Performance page)."""
    head = ["set-up", "images/s", "s/epoch", "TFLOP/s", "of peak", "peak mem GiB", "vs baseline"]
    lines = []
    for r in report["rows"]:
        mem = "n/a" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.2f}"
        name = r["setup"] + ("" if r["compiled"] or "compiled" not in r["setup"]
                             else " (compile failed: eager)")
        lines.append([name, f"{r['images_per_s']:,.0f}", f"{r['s_per_epoch']:.2f}",
                      f"{r['tflops']:.3g}", f"{100 * r['fraction_of_peak']:.1f} %", mem,
                      f"{r['speedup']:.2f}x"])
    if markdown:
        rows = [head, ["---"] * len(head)] + lines
        return "\n".join("| " + " | ".join(row) + " |" for row in rows)
    widths = [max(len(row[i]) for row in [head] + lines) for i in range(len(head))]
    fmt = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(head)] + [fmt(row) for row in lines])


def describe(report: dict) -> str:
    """The header printed above the table: device, peak, FLOPs, date."""
    p, c = report["provenance"], report["config"]
    return (f"{p['device']} | {p['date_utc']} | commit {p['git_commit']} | torch "
            f"{p['versions']['torch']}, torchvision {p['versions'].get('torchvision')}\n"
            f"ResNet-18 width {c['width']}, batch {c['batch_size']} x 2 views, "
            f"{c['n_images']:,} images of {c['image_size']}px; {c['timed_steps']} timed steps "
            f"after {c['warmup_steps']}; baseline DataLoader workers: {p['dataloader_workers']}\n"
            f"measured {p['device_type']} matmul peak ({report['peak_dtype']}): "
            f"{report['peak_tflops']:.3g} TFLOP/s; one step = {report['flops_per_step'] / 1e9:.3g} "
            f"GFLOP; one epoch = {report['flops_per_epoch'] / 1e15:.3g} PFLOP"
            + "".join(f"\ndata: {d['what']} generated in {d['seconds']:.1f} s on the CPU"
                      for d in report.get("data_generation", []))
            + "".join(f"\n{j['what']}: batched {j['batched_s']:.3f} s, indexed "
                      f"{j['indexed_s']:.3f} s ({j['speedup']:.1f}x)"
                      for j in report.get("jitter", [])))


def output_path(report: dict, smoke: bool, directory: Path) -> Path:
    """``<smoke|cpu|gpu>-<device>-<date>.json``: smoke/cpu files are git-ignored."""
    p = report["provenance"]
    kind = "smoke" if smoke else ("gpu" if p["device_type"] == "cuda" else "cpu")
    slug = re.sub(r"[^a-z0-9]+", "-", p["device"].lower()).strip("-")[:40]
    stamp = p["date_utc"][:19].replace(":", "").replace("-", "")
    return Path(directory) / f"{kind}-{slug}-{stamp}.json"


def bench_dirs() -> list[Path]:
    """Where reports are written (``results_dir()/bench``) and the checkout's committed ones."""
    from helpers.results import results_dir

    here = results_dir() / "bench"
    committed = Path(__file__).resolve().parent.parent / "results" / "bench"
    return [here] + ([committed] if committed.resolve() != here.resolve() else [])


def gpu_reports() -> list[tuple[Path, dict]]:
    """The GPU benchmark reports found (``gpu-*.json``), newest first; [] when none was run."""
    found = {}
    for d in bench_dirs():
        for path in sorted(d.glob("gpu-*.json")):
            found.setdefault(path.name, path)
    reports = [(p, json.loads(p.read_text())) for p in found.values()]
    return sorted(reports, key=lambda pr: pr[1]["provenance"]["date_utc"], reverse=True)


def seed_reports() -> list[tuple[Path, dict]]:
    """Committed or local reports (``cpu-*``, ``gpu-*``) that hold a seed-batching table, newest
    first; smoke runs are left out (their sizes say nothing about speed)."""
    found = {}
    for d in bench_dirs():
        for path in sorted(d.glob("*.json")):
            if not path.name.startswith("smoke-"):
                found.setdefault(path.name, path)
    reports = [(p, json.loads(p.read_text())) for p in found.values()]
    reports = [(p, r) for p, r in reports if "seed_batching" in r]
    return sorted(reports, key=lambda pr: pr[1]["provenance"]["date_utc"], reverse=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code (CPU, < 1 min)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    ap.add_argument("--compile", dest="compile", action="store_true", default=None,
                    help="also time the compiled pipeline (default on CUDA)")
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--workers", type=int, default=None, help="baseline DataLoader workers "
                    "(default one per CPU core)")
    ap.add_argument("--seeds", choices=("smoke", "cpu"), default=None,
                    help="size of the seed-batching rows: Chapter 1's cpu-profile network "
                         "('cpu', a few minutes on 2 cores) or a tiny one (default: smoke with "
                         "--smoke, else cpu); `make bench` on a CPU asks for cpu")
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON (default results/bench)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    if args.workers is not None:
        if args.workers < 0:
            ap.error(f"--workers must be >= 0, got {args.workers}")
        cfg = replace(cfg, workers=args.workers)
    report = run_bench(cfg, args.device, compile=args.compile, progress=not args.no_progress)
    seeds_smoke = args.smoke if args.seeds is None else args.seeds == "smoke"
    report["seed_batching"] = run_seed_bench(seed_bench_config(seeds_smoke), args.device,
                                             progress=not args.no_progress)
    print(describe(report))
    print(format_table(report))
    print(format_seed_table(report["seed_batching"]))
    path = output_path(report, args.smoke and seeds_smoke, args.out or bench_dirs()[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
