"""The fast training path: its augmentations follow torchvision's laws, it is seeded, and a step
gives the same loss trajectory as a plain loop on the same views (issue 7)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import pipeline
from helpers.augment import SIMCLR_SPEC, SimCLRAugment
from helpers.models import Network
from helpers.pipeline import SpeedSettings, make_optimizer, maybe_compile
from helpers.train import Recipe, Trainer, train
from view_sampler_oracle import check_view_sampler  # tests/view_sampler_oracle.py

CUDA = torch.cuda.is_available()


# ------------------------------------------------- augmentation parameter distributions


def test_pipeline_sampler_follows_spec_and_torchvision():
    """The sampler the training step calls, at the book's defaults, passes every test."""
    assert SimCLRAugment().sample_params.__self__.scale == SIMCLR_SPEC["scale"]
    assert check_view_sampler(SimCLRAugment().sample_params) == []


@pytest.mark.parametrize("wrong, flagged", [
    (dict(scale=(0.2, 1.0)), "crop area"),           # lower crop bound too high
    (dict(scale=(0.08, 0.9)), "crop area"),          # upper crop bound too low
    (dict(ratio=(0.8, 1.25)), "crop log aspect"),    # aspect range too narrow
    (dict(jitter=(0.5, 0.4, 0.4, 0.1)), "brightness"),
    (dict(jitter=(0.4, 0.4, 0.35, 0.1)), "saturation"),
    (dict(jitter=(0.4, 0.4, 0.4, 0.12)), "hue"),
    (dict(p_jitter=0.75), "jitter applied"),
    (dict(p_gray=0.22), "grayscale"),
    (dict(p_flip=0.48), "flip"),
])
def test_checker_flags_a_wrong_range(wrong, flagged):
    problems = check_view_sampler(SimCLRAugment(**wrong).sample_params)
    assert any(flagged in p for p in problems), problems


def test_checker_flags_a_wrong_law_with_the_right_range():
    """Hue drawn from U(0, 0.1) (one-sided) keeps inside [-0.1, 0.1] but is still caught."""

    def one_sided_hue(batch, height, width, *, generator):
        p = SimCLRAugment().sample_params(batch, height, width, generator=generator)
        factors = p.jitter.factors.clone()
        factors[:, 3] = factors[:, 3].abs()
        return p._replace(jitter=p.jitter._replace(factors=factors))

    problems = check_view_sampler(one_sided_hue)
    assert any("hue" in p and "KS" in p for p in problems), problems
    assert not any("leave" in p and "hue" in p for p in problems)  # the range itself is fine


@pytest.mark.parametrize("kw", [dict(n=10), dict(n_torchvision=5), dict(alpha=0.7)])
def test_checker_refuses_meaningless_settings(kw):
    with pytest.raises(ValueError):
        check_view_sampler(SimCLRAugment().sample_params, **kw)


def test_view_params_deterministic_under_a_seed():
    aug = SimCLRAugment()
    a = aug.sample_params(64, 32, 32, generator=torch.Generator().manual_seed(5))
    b = aug.sample_params(64, 32, 32, generator=torch.Generator().manual_seed(5))
    c = aug.sample_params(64, 32, 32, generator=torch.Generator().manual_seed(6))
    flat = lambda p: torch.cat([t.double().flatten() for t in
                                (*p.crop, p.flip, *p.jitter, p.gray)])
    assert torch.equal(flat(a), flat(b)) and not torch.equal(flat(a), flat(c))


def test_forward_is_sample_then_apply():
    aug, x = SimCLRAugment(size=24), torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    params = aug.sample_params(8, 32, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(aug(x, torch.Generator().manual_seed(1)), aug.apply_params(x, params))


# --------------------------------------------------------------- step parity with a loop


def tiny_model(seed=0):
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(2), nn.Flatten())
    head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 8))
    return encoder, head


def fixed_views(steps=5, b=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    aug = SimCLRAugment(size=16)
    x = torch.randint(0, 256, (steps, b, 3, 20, 20), generator=g, dtype=torch.uint8)
    return [aug.two_views(xi, g) for xi in x]


def naive_nt_xent(z1, z2, tau):
    """NT-Xent written from the paper, one anchor at a time (independent of helpers.losses)."""
    u = F.normalize(torch.cat([z1, z2]), dim=1)
    n, total = len(z1), 0.0
    for i in range(2 * n):
        sims = torch.stack([u[i] @ u[k] / tau for k in range(2 * n) if k != i])
        partner = (i + n) % (2 * n)
        pos = u[i] @ u[partner] / tau
        total = total + (torch.logsumexp(sims, 0) - pos)
    return total / (2 * n)


def plain_loop(views, lr=1e-2, tau=0.5):
    encoder, head = tiny_model()
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=lr)
    losses = []
    for v1, v2 in views:
        z = head(encoder(torch.cat([v1, v2])))
        loss = naive_nt_xent(z[:len(v1)], z[len(v1):], tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def fast_path(views, settings, lr=1e-2, tau=0.5):
    """The engine's step (one seed) on given views; the loss after each update."""
    encoder, head = tiny_model()
    recipe = Recipe("simclr", epochs=1, batch_size=len(views[0][0]), lr=lr, weight_decay=0.0,
                    temperature=tau)
    trainer = Trainer([Network(encoder, head)], recipe, None, [None], settings=settings)
    return [trainer.on_views([torch.cat([v1, v2])], [None]).item() for v1, v2 in views]


def test_fast_path_equals_plain_loop_on_the_same_views():
    views = fixed_views(steps=1) * 6  # one batch, six updates: the loss must fall
    ref = plain_loop(views)
    assert ref[-1] < ref[0]
    assert fast_path(views, SpeedSettings.plain()) == pytest.approx(ref, rel=1e-5)


def test_bf16_channels_last_on_cpu_stays_close_to_fp32():
    """The CUDA switches also run on a CPU: bf16 (8-bit mantissa, relative error ~ 2^-8 per
    op) moves a loss of ~3 by a few hundredths over 5 steps, not more; and it is really on."""
    views = fixed_views()
    ref = fast_path(views, SpeedSettings.plain())
    fast = fast_path(views, SpeedSettings(amp_dtype=torch.bfloat16, channels_last=True,
                                          compile=False, fused_optimizer=False))
    assert fast != ref  # autocast changed the arithmetic
    assert fast == pytest.approx(ref, abs=0.05)


# ---------------------------------------------------------------------- settings, compile


def test_settings_per_device(monkeypatch):
    monkeypatch.delenv(pipeline.ENV_COMPILE, raising=False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (9, 0))
    assert SpeedSettings.for_device("cpu") == SpeedSettings.plain()
    cuda = SpeedSettings.for_device("cuda")
    assert cuda.amp_dtype == torch.bfloat16 and cuda.channels_last and cuda.fused_optimizer
    assert not cuda.compile
    monkeypatch.setenv(pipeline.ENV_COMPILE, "1")
    assert SpeedSettings.for_device("cuda").compile and not SpeedSettings.for_device("cpu").compile
    assert SpeedSettings.for_device("cuda", compile=False).compile is False


def test_unknown_optimizer_is_an_error():
    with pytest.raises(ValueError, match="adam"):
        make_optimizer([nn.Parameter(torch.zeros(1))], "lamb", lr=0.1, weight_decay=0.0)


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken_compile(fn, **kw):
        def run(*a, **k):
            raise RuntimeError("no C compiler here")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    fn = maybe_compile(lambda x: 2 * x, True)
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        assert fn(torch.tensor(3.0)).item() == 6.0
    assert fn(torch.tensor(4.0)).item() == 8.0 and not fn.is_compiled()

    monkeypatch.setattr(torch, "compile", lambda fn, **kw: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.warns(RuntimeWarning, match="unavailable"):
        assert maybe_compile(lambda x: x + 1, True)(1) == 2


def test_compiled_function_is_used_when_compiling_works(monkeypatch):
    calls = []

    def fake_compile(fn, **kw):
        def run(*a, **k):
            calls.append(1)
            return fn(*a, **k)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    views = fixed_views(steps=2)
    settings = SpeedSettings(amp_dtype=None, channels_last=False, compile=True,
                             fused_optimizer=False)
    assert fast_path(views, settings) == pytest.approx(fast_path(views, SpeedSettings.plain()))
    assert len(calls) == 2


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_cuda_epoch_has_no_host_device_sync_and_matches_fp32():
    device = torch.device("cuda")
    data = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, device=device)
    recipe = Recipe("simclr", epochs=1, batch_size=32, lr=1e-3, weight_decay=0.0)

    def epoch_loss(settings):
        encoder, head = tiny_model()
        net = Network(encoder, head).to(device)
        train(net, data, recipe, SimCLRAugment(), seeds=0, device=device, speed=settings,
              progress=False)  # warm-up (cuDNN / allocator may sync once)
        torch.cuda.set_sync_debug_mode("error")
        try:  # the epoch's one sync is the final .tolist(), outside the steps
            trainer = Trainer([net], recipe, SimCLRAugment(),
                              [torch.Generator(device=device).manual_seed(0)], settings=settings)
            losses = [trainer.step([data[:32]], [None]), trainer.step([data[32:]], [None])]
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return torch.stack(losses).mean().item()

    fast = epoch_loss(SpeedSettings.for_device(device))
    plain = epoch_loss(SpeedSettings.plain())
    assert math.isfinite(fast) and fast == pytest.approx(plain, abs=0.05)
