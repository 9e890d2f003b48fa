"""Run profiles: selection by argument and environment, clear errors, every size present."""

import dataclasses

import pytest

from helpers import experiments
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


def test_every_experiment_has_every_profile_in_its_own_module():
    for entry in experiments.EXPERIMENTS:
        table = experiments.configs(entry.name)
        assert set(table) == set(PROFILE_NAMES), entry.name
        for name, cfg in table.items():
            assert dataclasses.is_dataclass(cfg) and type(cfg).__dataclass_params__.frozen
            assert type(cfg).__module__ == entry.module, f"{entry.name}'s config lives elsewhere"
            assert isinstance(cfg.data, str)  # results are filed under config.data
            assert get_profile(name).config(entry.name) == cfg


def test_registry_is_in_book_order_with_unique_names():
    names = experiments.names()
    assert len(set(names)) == len(names)
    chapters = [int(e.chapter.split()[0]) for e in experiments.EXPERIMENTS]
    assert chapters == sorted(chapters) and chapters[0] == 1
    assert names.index("puzzle") < names.index("expansion")  # Chapter 4 reuses Chapter 1's network


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(KeyError, match="known"):
        get_profile("smoke").config("no-such-chapter")


def test_a_missing_profile_size_is_a_clear_error(monkeypatch):
    from helpers.experiments import puzzle

    monkeypatch.setattr(puzzle, "CONFIGS", {"smoke": puzzle.CONFIGS["smoke"]})
    with pytest.raises(KeyError, match="add it to CONFIGS at the top of helpers.experiments.puzzle"):
        get_profile("paper").config("puzzle")


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
    assert (cfg.width, cfg.batch_size, cfg.lr, cfg.temperature) == (64, 512, 1e-3, 0.5)
    # the reference's 400 epochs per run do not fit the chapter budget once every seed is also
    # trained without a head; the epochs are what the budget leaves (helpers.budget)
    assert cfg.epochs * 2 * cfg.n_seeds <= 420 and cfg.n_seeds >= 3
