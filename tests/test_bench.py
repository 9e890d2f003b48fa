"""`make bench` runs end to end at smoke size (not timed), and its FLOP count is right."""

import json

import pytest
import torch
from torch import nn

from helpers import bench
from helpers.models import ResNet18


def test_smoke_bench_runs_and_writes_a_report(tmp_path, capsys):
    assert bench.main(["--smoke", "--device", "cpu", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    files = list(tmp_path.glob("smoke-*.json"))  # smoke-*: ignored by git (.gitignore)
    assert len(files) == 1 and str(files[0]) in out
    report = json.loads(files[0].read_text())
    setups = [r["setup"] for r in report["rows"]]
    assert setups == ["baseline fp32", "baseline bf16", "pipeline"]  # no compile on a CPU
    for row in report["rows"]:
        assert row["images_per_s"] > 0 and row["tflops"] > 0 and 0 < row["fraction_of_peak"]
        assert row["s_per_epoch"] == pytest.approx(report["config"]["n_images"] / row["images_per_s"])
        assert row["peak_memory_gib"] is None  # no GPU memory on a CPU
        assert row["setup"] in out
    base = report["rows"][0]["images_per_s"]  # every ratio is against the fp32 baseline
    assert [r["speedup"] for r in report["rows"]] == pytest.approx(
        [r["images_per_s"] / base for r in report["rows"]])
    prov = report["provenance"]
    for key in ("device", "versions", "git_commit", "date_utc"):
        assert key in prov
    assert "torchvision" in prov["versions"] and report["peak_dtype"] == "float32"
    assert "|" in bench.format_table(report, markdown=True)
    gen = report["data_generation"]  # issue 9: UrbanCars generation time is in the output
    assert [d["what"].split(", ")[-1] for d in gen] == ["32 px", "64 px"]
    assert all(d["seconds"] > 0 and d["what"] in out for d in gen)
    jitter = report["jitter"]  # both forms of apply_jitter timed in the same run
    assert [j["what"].split(", ")[-1] for j in jitter] == ["hue strength 0.0", "hue strength 0.1"]
    assert all(j["speedup"] == pytest.approx(j["batched_s"] / j["indexed_s"]) and j["what"] in out
               for j in jitter)
    seeds = report["seed_batching"]  # issue 15: K seeds one after the other vs together
    assert [r["setup"] for r in seeds["rows"]] == [
        "1 seed", "5 seeds one after the other", "5 seeds together (loop)",
        "5 seeds together (stacked)"]
    sequential = seeds["rows"][1]["s_per_epoch"]
    for row in seeds["rows"][1:]:  # every speed-up is against the sequential runs
        assert row["s_per_epoch"] > 0 and row["speedup"] == pytest.approx(sequential / row["s_per_epoch"])
        assert row["setup"] in out
    assert seeds["target_speedup"] == 2.5 and "seed batching" in out


def conv_linear_flops(model: nn.Module, x: torch.Tensor) -> int:
    """Forward FLOPs of every Conv2d and Linear, 2 per multiply-add, counted by hand (hooks)."""
    total = 0

    def hook(module, inp, out):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total += 2 * out.numel() * module.in_channels // module.groups * k
        else:
            total += 2 * out.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    model(x)
    for h in handles:
        h.remove()
    return total


def test_flop_counter_agrees_with_a_hand_count():
    from torch.utils.flop_counter import FlopCounterMode

    model, x = ResNet18(width=4), torch.rand(8, 3, 32, 32)
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == conv_linear_flops(model, x)
    # the standard network: about 0.56 G multiply-adds per 32x32 image (1.1 GFLOP)
    big = conv_linear_flops(ResNet18(width=64), torch.rand(1, 3, 32, 32))
    assert 1.0e9 < big < 1.2e9


def test_step_flops_are_forward_plus_backward():
    cfg = bench.SMOKE
    torch.manual_seed(0)
    encoder = ResNet18(width=cfg.width)
    forward = conv_linear_flops(encoder, torch.rand(2 * cfg.batch_size, 3, 32, 32))
    total = bench.step_flops(cfg, torch.device("cpu"))
    # backward costs about twice the forward (input and weight gradients; the stem conv has no
    # input gradient), plus the head and the loss's 2B x 2B matmuls
    assert 2.5 * forward < total < 3.5 * forward


def test_output_names_keep_local_runs_out_of_git(tmp_path):
    rep = {"provenance": {"device": "NVIDIA H100 80GB HBM3", "device_type": "cuda",
                          "date_utc": "2026-01-02T03:04:05+00:00"}}
    assert bench.output_path(rep, False, tmp_path).name.startswith("gpu-nvidia-h100")
    assert bench.output_path(rep, True, tmp_path).name.startswith("smoke-")
    rep["provenance"]["device_type"] = "cpu"
    assert bench.output_path(rep, False, tmp_path).name.startswith("cpu-")


def test_bad_workers_is_an_error():
    with pytest.raises(SystemExit):
        bench.main(["--smoke", "--workers", "-1"])


def test_matmul_peak_is_positive():
    tflops, dtype = bench.matmul_peak_tflops(torch.device("cpu"), 128, repeats=2)
    assert tflops > 0 and dtype == "float32"


def test_gpu_reports_finds_only_gpu_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    (tmp_path / "bench").mkdir()
    rep = {"provenance": {"date_utc": "2026-01-01T00:00:00+00:00"}}
    (tmp_path / "bench" / "smoke-cpu-x.json").write_text(json.dumps(rep))
    assert all(p.name.startswith("gpu-") for p, _ in bench.gpu_reports())
    (tmp_path / "bench" / "gpu-h100-x.json").write_text(json.dumps(rep))
    assert "gpu-h100-x.json" in [p.name for p, _ in bench.gpu_reports()]
