"""Chapter 7's training entry point under DistributedDataParallel: 2 CPU processes on gloo end
with identical weights, that differ from the start (they trained) - helpers.distributed."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

from helpers.data.urbancars import make_urbancars
from helpers.experiments import shortcuts
from helpers.profiles import get_profile


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, method, out_dir):
    import os
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from helpers.distributed import init_from_env
    r, w, device = init_from_env()
    assert (r, w) == (rank, world) and device.type == "cpu"
    cfg = get_profile("smoke").config("shortcuts")
    small = {"train": make_urbancars("train", size=32, seed=0, n=200)}
    net = shortcuts.train_method(cfg, method, small, 0, device, progress=False)
    torch.save({k: v.detach().cpu() for k, v in net.named_parameters()},
               f"{out_dir}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize("method", ["erm_head", "supcon_head"])
def test_two_gloo_ranks_end_with_identical_weights(tmp_path, method):
    mp.spawn(_worker, args=(2, _free_port(), method, str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs between ranks"
    torch.manual_seed(0)
    init = dict(shortcuts.build_network(get_profile("smoke").config("shortcuts"), method)
                .named_parameters())
    assert any(not torch.allclose(a[k], init[k]) for k in a), "the weights never moved"


def test_single_process_runs_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    from helpers.distributed import init_from_env
    assert init_from_env()[:2] == (0, 1)


def test_batch_too_small_for_ranks_is_a_clear_error():
    cfg = get_profile("smoke").config("shortcuts")
    net = shortcuts.build_network(cfg, "erm")
    images, labels = torch.zeros(10, 3, 32, 32, dtype=torch.uint8), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="batch_size"):
        shortcuts.train_network(net, images, labels, loss="ce", epochs=1, seed=0, device="cpu",
                                cfg=cfg, batch_size=20)
    with pytest.raises(ValueError, match="unknown loss"):
        shortcuts.train_network(net, images, labels, loss="mse", epochs=1, seed=0, device="cpu",
                                cfg=cfg, batch_size=4)
