"""Run profiles: selection by argument and environment, clear errors, every size present."""

import dataclasses

import pytest

from helpers import profiles
from helpers.profiles import PROFILE_NAMES, get_profile


def test_env_var_selects_profile(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert get_profile().name == "smoke"


def test_argument_beats_env(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert get_profile("paper").name == "paper"


def test_default_without_cuda_is_cpu(monkeypatch):
    monkeypatch.delenv("BOOK_PROFILE", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert get_profile().name == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert get_profile().name == "gpu"


@pytest.mark.parametrize("bad", ["fast", "GPUs", "full"])
def test_unknown_profile_lists_valid_ones(monkeypatch, bad):
    monkeypatch.setenv("BOOK_PROFILE", bad)
    with pytest.raises(ValueError, match="smoke, cpu, gpu, paper"):
        get_profile()


def test_every_experiment_has_every_profile():
    for name, table in profiles._EXPERIMENTS.items():
        assert set(table) == set(PROFILE_NAMES), name


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(KeyError, match="known"):
        get_profile("smoke").config("no-such-chapter")


def test_configs_are_frozen_and_overridable():
    cfg = get_profile("smoke").config("puzzle", epochs=7)
    assert cfg.epochs == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3


def test_profiles_grow_monotonically():
    """A bigger profile never trains on fewer images or for fewer epochs."""
    sizes = [get_profile(n).config("puzzle") for n in PROFILE_NAMES]
    for small, big in zip(sizes, sizes[1:]):
        assert big.n_train >= small.n_train and big.epochs >= small.epochs


def test_paper_profile_uses_reference_hyperparameters():
    cfg = get_profile("paper").config("puzzle")
    assert (cfg.width, cfg.epochs, cfg.batch_size, cfg.lr, cfg.temperature) == (64, 400, 512, 1e-3, 0.5)
