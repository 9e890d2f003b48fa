"""helpers.result_files: whole-file writes under unique temporary names (issue 20)."""

import pytest
import torch

from helpers.result_files import atomic_target, atomic_write


def test_atomic_target_uses_a_unique_temp_file_next_to_the_target(tmp_path):
    target = tmp_path / "run" / "seed0.pt"
    with atomic_target(target) as first, atomic_target(target) as second:
        assert first != second and first.parent == second.parent == target.parent
        torch.save({"epoch": 1}, first)
        torch.save({"epoch": 2}, second)
        assert not target.exists()  # nothing is visible until the block ends
    assert torch.load(target, weights_only=True) == {"epoch": 1}  # the last rename wins
    assert sorted(p.name for p in target.parent.iterdir()) == ["seed0.pt"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "r.json"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_target(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
