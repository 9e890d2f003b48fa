"""The training cost of each experiment's config, in full epochs, and the profiles' budgets."""

import pytest

from helpers import budget
from helpers.profiles import GPU_BUDGET_EPOCHS, PAPER_BUDGET_EPOCHS, get_profile
from helpers.experiments import EXPERIMENTS


def test_full_epoch_unit():
    # SimCLR on CIFAR-10: 50k images x 2 views, full width, 32 px = one full epoch
    assert budget.full_epochs_of(50_000, 2, 1) == 1.0
    assert budget.full_epochs_of(50_000, 1, 1, size=64) == 2.0  # 4x the pixels, half the views
    assert budget.full_epochs_of(50_000, 2, 1, width=32) == 0.25  # FLOPs ~ width^2


def test_hand_counted_paper_costs():
    paper = get_profile("paper")
    # 3 seeds x (with the head, without) x 70 epochs
    assert budget.full_epochs("puzzle", paper.config("puzzle")) == 420
    # 3 seeds x 35 epochs x (CE 1 + 1 view, SupCon 2 + 2, SimCLR 2) on all 50k images
    assert budget.full_epochs("class_collapse", paper.config("class_collapse")) == pytest.approx(420)
    assert budget.full_epochs("nonlinear", paper.config("nonlinear")) == 0  # no ResNet


@pytest.mark.parametrize("profile, limit", [("paper", PAPER_BUDGET_EPOCHS), ("gpu", GPU_BUDGET_EPOCHS)])
def test_every_chapter_fits_its_profile_budget(profile, limit):
    prof = get_profile(profile)
    for entry in EXPERIMENTS:
        cost = budget.full_epochs(entry.name, prof.config(entry.name))
        assert cost <= limit, (f"{entry.name} at {profile} asks for {cost:.0f} full epochs, over "
                               f"the budget of {limit}; shrink it in CONFIGS of {entry.module}")


def test_experiments_without_resnets_cost_nothing_and_the_rest_count_their_runs():
    paper = get_profile("paper")
    for name in ("feature_weighting", "lower_layer", "nonlinear", "collapse_toy"):
        assert budget.full_epochs(name, paper.config(name)) == 0
    # 7 (fixed heads) + 1 (MLP) heads x 3 seeds x (2 + 2 + 1 views) x 10k images x 35 epochs
    assert budget.full_epochs("reweighting", paper.config("reweighting")) == pytest.approx(420)
    # 3 strengths x 3 p_drops x 3 seeds x 2 views x 50k images x 15 epochs
    assert budget.full_epochs("digit_overlay", paper.config("digit_overlay")) == pytest.approx(405)
    assert budget.full_epochs("shortcuts", get_profile("cpu").config("shortcuts")) == 0  # convnet
    with pytest.raises(KeyError, match="known"):
        budget.full_epochs("no-such-chapter", None)


def test_describe_says_epochs_and_minutes():
    assert budget.describe("puzzle", get_profile("paper").config("puzzle")) == \
        "420 full epochs, ~14 min at the H100 target of 2 s each"
    assert budget.describe("lower_layer", get_profile("paper").config("lower_layer")) == ""
