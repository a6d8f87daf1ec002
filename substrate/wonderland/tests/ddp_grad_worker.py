"""Helper of test_distributed (not a test): the gradient of the first global batch, as one rank sees it.

    [WORLD_SIZE=2 RANK=r MASTER_ADDR=.. MASTER_PORT=..] python3 tests/ddp_grad_worker.py DATA_DIR OUT.pt

Uses the trainer's own pieces (batch order, micro-batching, sharding, DDP) for one forward/backward and
saves the parameters' gradients after DDP's all-reduce and the loss summed over the ranks.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from model import common, distributed  # noqa: E402  (common pins threads before torch)
from model.train import accumulate_step, batches, build_tensors  # noqa: E402

import torch  # noqa: E402

SEED, BATCH = 5, 16


def main(data_dir: str, out: str) -> int:
    ranks = distributed.from_env()
    common.setup_torch(SEED)
    ids, lens, mask = build_tensors(common.read_rows(os.path.join(data_dir, "train.csv")))
    idx = next(batches(len(ids), BATCH, torch.Generator().manual_seed(SEED)))
    model = common.load_model(os.path.join(ROOT, "base", "checkpoint.pt")).train()
    net = model
    if ranks is not None:
        distributed.init(ranks, "cpu")
        net = distributed.wrap(model, ranks, "cpu")
    loss, answer_loss = accumulate_step(net, ids[idx], lens[idx], mask[idx], 0.0, ranks=ranks)
    if ranks is not None:
        loss, answer_loss = distributed.sum_across([loss, answer_loss], "cpu")
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    torch.save({"grads": grads, "losses": torch.tensor([loss, answer_loss], dtype=torch.float64)}, out)
    if ranks is not None:
        distributed.finish()
    return 0


if __name__ == "__main__":
    sys.exit(distributed.run(lambda: main(sys.argv[1], sys.argv[2])))
