"""The training engine: learns, is seeded, resumes exactly, refuses other runs' checkpoints, and
K seeds trained together give the per-seed results of K separate runs (both strategies)."""

import pytest
import torch
from torch import nn

from helpers.augment import ShiftFlip
from helpers.heads import IdentityHead, MLPHead
from helpers.models import Network
from helpers.pipeline import SpeedSettings, autocast_dtype
from helpers.train import Recipe, Trainer, fingerprint, train


class NoiseViews(nn.Module):
    """A stand-in augmentation: each view adds seeded Gaussian noise to the [0, 1] image."""

    def forward(self, x, generator):
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        return x + 0.1 * torch.randn(x.shape, generator=generator, device=x.device)

    def two_views(self, x, generator):
        return self(x, generator), self(x, generator)


class TinyEncoder(nn.Module):
    """Conv + BatchNorm (so per-seed BatchNorm statistics are tested) -> (batch, 32). No conv
    bias before BatchNorm (as in ResNets): its gradient is rounding noise, which Adam would
    amplify to lr-sized steps that no two float orders of summation agree on."""

    out_dim = 32

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten())

    def forward(self, x):
        return self.body(x)


def tiny_net(seed=0, classes=0, head="mlp"):
    torch.manual_seed(seed)
    enc = TinyEncoder()
    h = MLPHead(32, 16, 8) if head == "mlp" else IdentityHead(32)
    return Network(enc, h, nn.Linear(h.out_dim, classes) if classes else None)


IMAGES = torch.randint(0, 256, (64, 3, 8, 8), generator=torch.Generator().manual_seed(1),
                       dtype=torch.uint8)
LABELS = torch.arange(64) % 4
SIMCLR = Recipe("simclr", epochs=2, batch_size=16, lr=1e-2, weight_decay=1e-4)


def run(recipe=SIMCLR, seeds=(0,), checkpoint=None, strategy=None, init_seed=None, **kw):
    classes = 4 if recipe.loss == "ce" else 0
    nets = [tiny_net(s if init_seed is None else init_seed, classes) for s in seeds]
    labels = None if recipe.loss == "simclr" else LABELS
    hist = train(nets, kw.pop("images", IMAGES), recipe, kw.pop("augment", NoiseViews()), seeds=list(seeds),
                 labels=labels, checkpoint=checkpoint, strategy=strategy, progress=False, **kw)
    return nets, hist


def test_loss_decreases():
    _, (hist,) = run(Recipe("simclr", epochs=15, batch_size=32, lr=1e-2, weight_decay=0.0))
    assert hist["loss"][-1] < hist["loss"][0] - 0.2


def test_same_seed_same_run_other_seed_other_run():
    (a,), (ha,) = run()
    (b,), (hb,) = run()
    (_,), (hc,) = run(seeds=(1,))
    assert ha["loss"] == hb["loss"] != hc["loss"]
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_cpu_run_is_the_plain_loop_bit_for_bit():
    """The engine on a CPU is the textbook loop: per epoch one seeded permutation, per batch two
    views, network, NT-Xent, zero_grad, backward, Adam step."""
    from helpers.augment import SimCLRAugment
    from helpers.losses import nt_xent

    aug = SimCLRAugment(size=8, scale=(0.2, 1.0))
    (net,), (hist,) = run(augment=aug, seeds=(3,), init_seed=0)
    ref = tiny_net(0)
    opt = torch.optim.Adam(ref.parameters(), lr=1e-2, weight_decay=1e-4)
    gen, losses = torch.Generator().manual_seed(3), []
    for _ in range(2):
        order, total = torch.randperm(64, generator=gen), torch.zeros(())
        for s in range(4):
            v1, v2 = aug.two_views(IMAGES[order[s * 16:(s + 1) * 16]], generator=gen)
            z = ref.head(ref.encoder(torch.cat([v1, v2])))
            loss = nt_xent(z[:16], z[16:], temperature=0.5)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        losses.append(total.item() / 4)
    assert hist["loss"] == losses
    for p, q in zip(net.parameters(), ref.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("strategy", ["loop", "stacked"])
@pytest.mark.parametrize("loss", ["simclr", "supcon", "ce"])
def test_batched_seeds_equal_separate_runs(strategy, loss):
    """Three seeds trained together = three runs trained alone: same losses, same weights and
    BatchNorm statistics (to float tolerance), each seed with its own init, views and order."""
    recipe = Recipe(loss, epochs=2, batch_size=16, lr=1e-2, weight_decay=1e-4,
                    optimizer="sgd" if loss == "ce" else "adam")
    seeds = (0, 1, 2)
    together, hist = run(recipe, seeds, strategy=strategy)
    for k, s in enumerate(seeds):
        (alone,), (h_alone,) = run(recipe, (s,))
        assert hist[k]["loss"] == pytest.approx(h_alone["loss"], rel=1e-4, abs=1e-5)
        sd_t, sd_a = together[k].state_dict(), alone.state_dict()
        for name in sd_a:
            torch.testing.assert_close(sd_t[name].float(), sd_a[name].float(), rtol=1e-4,
                                       atol=1e-5, msg=f"seed {s}: {name} differs")
    assert hist[0]["loss"] != hist[1]["loss"]  # the seeds really differ


@pytest.mark.parametrize("strategy", ["loop", "stacked"])
def test_resume_matches_uninterrupted(tmp_path, strategy):
    """A run stopped after its first epoch resumes from the checkpoint to the same result."""
    ckpt = tmp_path / "run.pt"
    recipe = Recipe("simclr", epochs=3, batch_size=16, lr=1e-2, weight_decay=0.0)

    class Stop(Exception):
        pass

    def stop_after_one(epoch):
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        run(recipe, seeds=(0, 1), checkpoint=ckpt, on_epoch_end=stop_after_one, strategy=strategy)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    resumed, h_res = run(recipe, seeds=(0, 1), checkpoint=ckpt, strategy=strategy)
    straight, h_str = run(recipe, seeds=(0, 1), strategy=strategy)
    assert [h["epochs_run"] for h in h_res] == [2, 2]
    for a, b, ha, hb in zip(resumed, straight, h_res, h_str):
        assert ha["loss"] == pytest.approx(hb["loss"], rel=1e-6)
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q)
    again, h_again = run(recipe, seeds=(0, 1), checkpoint=ckpt, strategy=strategy)
    assert [h["epochs_run"] for h in h_again] == [0, 0]  # finished: loaded, not retrained


def test_checkpoint_of_another_run_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(checkpoint=ckpt)
    other_epochs = Recipe("simclr", epochs=1, batch_size=16, lr=1e-2, weight_decay=1e-4)
    with pytest.raises(RuntimeError, match="different run"):  # fewer epochs: never a longer run
        run(other_epochs, checkpoint=ckpt)
    with pytest.raises(RuntimeError, match="different run"):  # other data
        nets = [tiny_net(0)]
        train(nets, IMAGES.flip(0), SIMCLR, NoiseViews(), seeds=0, checkpoint=ckpt,
              progress=False)
    with pytest.raises(RuntimeError, match="different run"):  # other augmentation
        run(checkpoint=ckpt, augment=ShiftFlip(0.1))


def test_fingerprint_covers_data_init_recipe_and_seeds():
    base = dict(nets=[tiny_net(0)], images=IMAGES, labels=None, alt_images=None,
                augment=NoiseViews(), recipe=SIMCLR, seeds=[0], strategy="loop",
                settings=SpeedSettings.plain())
    ref = fingerprint(**base)
    assert fingerprint(**base) == ref
    for change in (dict(nets=[tiny_net(1)]), dict(images=IMAGES.roll(1, 0)), dict(seeds=[5]),
                   dict(recipe=Recipe("simclr", 2, 16, 1e-2, 1e-4, temperature=0.2)),
                   dict(labels=LABELS), dict(strategy="stacked")):
        assert fingerprint(**{**base, **change}) != ref, change


def test_corrupted_checkpoint_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="delete it"):
        run(checkpoint=ckpt)


def test_checkpoint_writes_leave_no_temporary_files(tmp_path):
    run(checkpoint=tmp_path / "run.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_alt_images_replace_images_with_their_probability():
    """alt_prob = 1: every drawn image is its alternative, so the images themselves no longer
    matter; alt_prob = 0: the alternatives never enter."""
    r1 = Recipe("ce", epochs=1, batch_size=16, lr=1e-2, weight_decay=0.0, alt_prob=1.0)
    r0 = Recipe("ce", epochs=1, batch_size=16, lr=1e-2, weight_decay=0.0, alt_prob=0.0)
    flipped, blank = IMAGES.flip(-1), torch.zeros_like(IMAGES)
    (a,), _ = run(r1, images=IMAGES, alt_images=flipped)
    (b,), _ = run(r1, images=blank, alt_images=flipped)
    (c,), _ = run(r0, images=IMAGES, alt_images=flipped)
    (d,), _ = run(r0, images=IMAGES, alt_images=blank)
    assert torch.equal(a.encoder.body[0].weight, b.encoder.body[0].weight)
    assert torch.equal(c.encoder.body[0].weight, d.encoder.body[0].weight)
    assert not torch.equal(a.encoder.body[0].weight, c.encoder.body[0].weight)


@pytest.mark.parametrize("bad, match", [
    (dict(images=torch.zeros(8, 3, 4)), "images"),
    (dict(recipe=Recipe("simclr", 1, 128, 1e-2, 0.0)), "batch_size"),
    (dict(recipe=Recipe("ce", 1, 16, 1e-2, 0.0), labels=None), "labels"),
    (dict(recipe=Recipe("ce", 1, 16, 1e-2, 0.0), labels=LABELS.float()), "labels"),
    (dict(recipe=Recipe("ce", 1, 16, 1e-2, 0.0), labels=LABELS), "classifier"),
    (dict(seeds=[0, 1]), "one network per seed"),
    (dict(strategy="parallel"), "strategy"),
    (dict(recipe=Recipe("simclr", 1, 16, 1e-2, 0.0, alt_prob=0.5)), "alt_images"),
])
def test_bad_input(bad, match):
    kw = dict(images=IMAGES, recipe=SIMCLR, seeds=[0], labels=None, strategy=None)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        train([tiny_net(0)], kw.pop("images"), kw.pop("recipe"), NoiseViews(), progress=False, **kw)


@pytest.mark.parametrize("kw, match", [(dict(loss="mse"), "unknown loss"),
                                       (dict(temperature=0.0), "temperature"),
                                       (dict(batch_size=1), "batch_size"),
                                       (dict(alt_prob=1.5), "alt_prob")])
def test_bad_recipe(kw, match):
    with pytest.raises(ValueError, match=match):
        Recipe(**{**dict(loss="simclr", epochs=1, batch_size=8, lr=0.1, weight_decay=0.0), **kw})


def test_autocast_dtype_follows_the_hardware(monkeypatch):
    """bf16 only where the GPU has it natively (sm >= 8); a T4 (sm 7.5) gets fp16; CPU fp32."""
    assert autocast_dtype("cpu") is None
    for capability, dtype in (((7, 5), torch.float16), ((8, 0), torch.bfloat16),
                              ((9, 0), torch.bfloat16), ((6, 1), torch.float16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None, c=capability: c)
        assert autocast_dtype("cuda") == dtype
        assert SpeedSettings.for_device("cuda").amp_dtype == dtype


def test_trainer_returns_one_loss_per_seed_on_the_device():
    nets = [tiny_net(s) for s in (0, 1)]
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    trainer = Trainer(nets, SIMCLR, NoiseViews(), gens, settings=SpeedSettings.plain())
    losses = trainer.step([IMAGES[:16], IMAGES[16:32]], [None, None])
    assert losses.shape == (2,) and not losses.requires_grad and losses[0] != losses[1]
