"""SimCLR loop: learns, is deterministic under a seed, resumes exactly, refuses bad checkpoints."""

import pytest
import torch
from torch import nn

from helpers.train import train_simclr


class NoiseViews(nn.Module):
    """A stand-in augmentation: each view adds seeded Gaussian noise."""

    def two_views(self, x, generator):
        noise = lambda: 0.1 * torch.randn(x.shape, generator=generator, device=x.device)
        return x + noise(), x + noise()


def tiny_model(seed=0):
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                            nn.Flatten())
    head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 8))
    return encoder, head


IMAGES = torch.randint(0, 256, (64, 3, 8, 8), generator=torch.Generator().manual_seed(1),
                       dtype=torch.uint8)
KW = dict(batch_size=32, lr=1e-2, weight_decay=0.0, temperature=0.5, seed=0, progress=False)


def run(epochs, checkpoint=None, seed=0):
    encoder, head = tiny_model(seed)
    hist = train_simclr(encoder, head, IMAGES, NoiseViews(), epochs=epochs,
                        checkpoint=checkpoint, **KW)
    return encoder, head, hist


def test_loss_decreases():
    _, _, hist = run(epochs=15)
    assert hist["loss"][-1] < hist["loss"][0] - 0.2


def test_same_seed_same_run():
    e1, _, h1 = run(epochs=2)
    e2, _, h2 = run(epochs=2)
    assert h1["loss"] == h2["loss"]
    for a, b in zip(e1.parameters(), e2.parameters()):
        assert torch.equal(a, b)


def test_resume_matches_uninterrupted(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(epochs=1, checkpoint=ckpt)  # "interrupted" after one epoch
    e_resumed, _, h_resumed = run(epochs=3, checkpoint=ckpt, seed=123)  # other init: overwritten
    e_straight, _, h_straight = run(epochs=3)
    assert h_resumed["epochs_run"] == 2
    assert h_resumed["loss"] == pytest.approx(h_straight["loss"], rel=1e-5)
    for a, b in zip(e_resumed.parameters(), e_straight.parameters()):
        torch.testing.assert_close(a, b)


def test_corrupted_checkpoint_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="delete it"):
        run(epochs=1, checkpoint=ckpt)


def test_checkpoint_of_other_config_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(epochs=1, checkpoint=ckpt)
    encoder, head = tiny_model()
    with pytest.raises(RuntimeError, match="different configuration"):
        train_simclr(encoder, head, IMAGES, NoiseViews(), epochs=2, checkpoint=ckpt,
                     **{**KW, "temperature": 0.1})


@pytest.mark.parametrize("images, batch", [(torch.zeros(8, 1, 4, 4), 4), (torch.zeros(8, 3, 4), 4),
                                           (torch.zeros(8, 3, 4, 4), 16), (torch.zeros(8, 3, 4, 4), 1)])
def test_bad_input(images, batch):
    encoder, head = tiny_model()
    with pytest.raises(ValueError):
        train_simclr(encoder, head, images, NoiseViews(), epochs=1,
                     **{**KW, "batch_size": batch})
