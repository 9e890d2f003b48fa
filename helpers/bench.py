"""``make bench``: how fast the book's SimCLR pipeline trains, against the common baseline.

    python -m helpers.bench            # full size: CIFAR-10-shaped data, ResNet-18, batch 512
    python -m helpers.bench --smoke    # tiny, for a CPU and the test suite (< 1 minute)

SimCLR with the CIFAR ResNet-18 (:class:`helpers.models.ResNet18`) and a 2-layer MLP head,
two views per image, on synthetic uint8 images shaped like CIFAR-10's training set (speed does
not depend on the pixels). In one run on one device it measures three (four) set-ups:

* ``baseline fp32``: what common reference implementations do: torchvision transforms on PIL
  images in a ``DataLoader`` with one worker per CPU core and pinned memory, fp32 model;
* ``baseline bf16``: the same data path, the model under bf16 autocast (tells the gain from
  precision apart from the gain from the data path);
* ``pipeline``: :class:`helpers.pipeline.SimCLRStep` with data and augmentations on the device;
* ``pipeline compiled``: the same with ``torch.compile`` (when ``--compile``, default on CUDA).

For each: images/s (training images; each gives two views), seconds per epoch of ``n_images``
(from the timed steps' rate), achieved TFLOP/s (FLOPs of one step's forward + backward counted
by ``torch.utils.flop_counter.FlopCounterMode``), that as a fraction of the peak matmul rate
measured in the same run (a large bf16 matmul on CUDA, fp32 on a CPU), peak GPU memory, and the
images/s ratio to ``baseline fp32``. A JSON with provenance goes to ``results/bench/``; a CPU or
smoke run's file is named ``cpu-*``/``smoke-*`` and is ignored by git like other local results.
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
from helpers.pipeline import SimCLRStep, SpeedSettings, make_optimizer
from helpers.runtime import device_name, get_device, git_commit, versions


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

    encoder, head = _model(cfg, device)
    step = SimCLRStep(encoder, head, None, None, temperature=0.5, settings=SpeedSettings.plain())
    v = torch.rand(cfg.batch_size, 3, cfg.image_size, cfg.image_size, device=device)
    with FlopCounterMode(display=False) as counter:
        step._views_loss(v, v).backward()
    return int(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(cfg: BenchConfig, device: torch.device):
    torch.manual_seed(0)
    encoder = ResNet18(width=cfg.width).to(device)
    return encoder, MLPHead(encoder.out_dim, cfg.head_hidden, cfg.head_out).to(device)


def _step(cfg: BenchConfig, device: torch.device, settings: SpeedSettings) -> SimCLRStep:
    encoder, head = _model(cfg, device)
    opt = make_optimizer(list(encoder.parameters()) + list(head.parameters()), "adam", lr=1e-3,
                         weight_decay=1e-6, fused=settings.fused_optimizer)
    augment = SimCLRAugment(size=cfg.image_size)  # the jitter 0.4/0.4/0.4/0.1, p 0.8 ...
    return SimCLRStep(encoder, head, augment, opt, temperature=0.5, settings=settings)


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


def _time_baseline(cfg, device, images, settings, progress) -> tuple[float, SimCLRStep]:
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
            step.on_views(v1, v2)  # the loss stays on the device: no sync inside the timing
            batches += 1
            bar.update()
            if batches == need:
                break
    _sync(device)
    bar.close()
    return time.perf_counter() - start, step


def _time_pipeline(cfg, device, images, settings, progress) -> tuple[float, SimCLRStep]:
    data = images.to(device)  # the whole set on the device, uint8
    step = _step(cfg, device, settings)
    gen = torch.Generator(device=device).manual_seed(0)
    start = None
    for i in tqdm(range(cfg.warmup_steps + cfg.timed_steps), desc="  steps", disable=not progress,
                  leave=False):
        if i == cfg.warmup_steps:
            _sync(device)
            start = time.perf_counter()
        idx = torch.randint(0, len(data), (cfg.batch_size,), device=device, generator=gen)
        step(data[idx], gen)  # no .item(): the loss stays on the device
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
              ("baseline bf16", _time_baseline, replace(SpeedSettings.plain(), autocast_bf16=True)),
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
        rows.append({"setup": name, "settings": asdict(settings), "compiled": step.compiled,
                     "images_per_s": ips, "s_per_epoch": cfg.n_images / ips,
                     "tflops": tflops, "fraction_of_peak": tflops / peak,
                     "peak_memory_gib": (torch.cuda.max_memory_allocated(device) / 2 ** 30
                                         if device.type == "cuda" else None)})
    for row in rows:
        row["speedup"] = row["images_per_s"] / rows[0]["images_per_s"]
    if progress:
        print("data generation ...", file=sys.stderr)
    return {"config": asdict(cfg), "rows": rows, "data_generation": data_generation_seconds(),
            "flops_per_step": flops,
            "flops_per_epoch": flops * cfg.n_images / cfg.batch_size,
            "peak_tflops": peak, "peak_dtype": peak_dtype, "provenance": provenance(device, cfg)}


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


def provenance(device: torch.device, cfg: BenchConfig) -> dict:
    return {"device": device_name(device), "device_type": device.type,
            "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "dataloader_workers": cfg.workers or os.cpu_count(), "versions": versions(),
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
                      for d in report.get("data_generation", [])))


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code (CPU, < 1 min)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    ap.add_argument("--compile", dest="compile", action="store_true", default=None,
                    help="also time the compiled pipeline (default on CUDA)")
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--workers", type=int, default=None, help="baseline DataLoader workers "
                    "(default one per CPU core)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON (default results/bench)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    cfg = SMOKE if args.smoke else FULL
    if args.workers is not None:
        if args.workers < 0:
            ap.error(f"--workers must be >= 0, got {args.workers}")
        cfg = replace(cfg, workers=args.workers)
    report = run_bench(cfg, args.device, compile=args.compile, progress=not args.no_progress)
    print(describe(report))
    print(format_table(report))
    path = output_path(report, args.smoke, args.out or bench_dirs()[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
