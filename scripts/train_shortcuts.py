"""Train one Chapter 7 network, on one process or many:

    python scripts/train_shortcuts.py --profile cpu --method erm_head --out erm_head.pt
    torchrun --nproc_per_node 4 scripts/train_shortcuts.py --profile gpu --method supcon_head

Under torchrun each process trains its shard of every batch with DistributedDataParallel
(helpers.distributed); rank 0 writes the weights.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.distributed import train_entry  # noqa: E402
from helpers.experiments.shortcuts import METHODS  # noqa: E402
from helpers.profiles import PROFILE_NAMES  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=PROFILE_NAMES)
    parser.add_argument("--method", default="erm_head", choices=METHODS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    train_entry(args.profile, args.method, args.seed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
