"""Multi-rank training (frozen): PyTorch DDP over the torchrun environment, one process per rank.

Read from the environment (torchrun sets all of them; so do the executors, one process per node):
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` (default 0), ``MASTER_ADDR``, ``MASTER_PORT``;
``WONDERLAND_DIST_TIMEOUT`` (seconds, default 600) bounds the rendezvous and every collective, so a rank
that dies or never arrives makes the others fail instead of waiting for ever.

With ``WORLD_SIZE`` unset or 1 none of this is used: no process group, the single-process run unchanged.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

DEFAULT_TIMEOUT_S = 600


@dataclass(frozen=True)
class Ranks:
    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int_env(env: Mapping[str, str], name: str, default: Optional[int] = None) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        if default is None:
            raise SystemExit(f"multi-rank training: {name} is not set (WORLD_SIZE={env.get('WORLD_SIZE')})")
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"multi-rank training: {name}={raw!r} is not an integer") from None


def from_env(env: Mapping[str, str] = os.environ) -> Optional[Ranks]:
    """The ranks this process is part of, or None for a single-process run (WORLD_SIZE unset or 1)."""
    world = _int_env(env, "WORLD_SIZE", 1)
    if world < 1:
        raise SystemExit(f"multi-rank training: WORLD_SIZE={world}; expected >= 1")
    if world == 1:
        return None
    rank = _int_env(env, "RANK")
    if not 0 <= rank < world:
        raise SystemExit(f"multi-rank training: RANK={rank} outside 0..{world - 1} (WORLD_SIZE={world})")
    local_rank = _int_env(env, "LOCAL_RANK", 0)
    if local_rank < 0:
        raise SystemExit(f"multi-rank training: LOCAL_RANK={local_rank}; expected >= 0")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not env.get(name, "").strip():
            raise SystemExit(f"multi-rank training: {name} is not set (WORLD_SIZE={world})")
    return Ranks(rank, world, local_rank)


def timeout_s(env: Mapping[str, str] = os.environ) -> int:
    t = _int_env(env, "WONDERLAND_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)
    if t <= 0:
        raise SystemExit(f"WONDERLAND_DIST_TIMEOUT={t}; expected seconds > 0")
    return t


def init(ranks: Ranks, device: str) -> str:
    """Join the process group (gloo on CPU, NCCL on CUDA); returns the device this rank trains on."""
    cuda = device.startswith("cuda")
    if cuda:
        # one GPU per rank: the rank's local index; "cuda" then means that GPU everywhere below
        torch.cuda.set_device(ranks.local_rank)
        device = "cuda"
        # without async error handling NCCL ignores the timeout and a dead peer hangs the others
        os.environ.setdefault("NCCL_ASYNC_ERROR_HANDLING", "1")
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        init_method="env://",
        rank=ranks.rank,
        world_size=ranks.world,
        timeout=datetime.timedelta(seconds=timeout_s()),
    )
    return device


def wrap(model: torch.nn.Module, ranks: Ranks, device: str) -> DistributedDataParallel:
    """DDP around ``model`` (rank 0's weights are broadcast; all ranks load the same base anyway).

    DDP averages the ranks' gradients; the exact global gradient is their *sum* (every rank divides its loss
    by the global batch's weight), so the trainer scales each rank's loss by WORLD_SIZE (``grad_scale``;
    exact for a power of two).  A Python comm hook summing instead deadlocked torch 1.13 at exit: the
    process group's destructor joined a gloo thread that was freeing the hook's tensors and needed the GIL.
    """
    return DistributedDataParallel(
        model,
        device_ids=[ranks.local_rank] if device.startswith("cuda") else None,
        broadcast_buffers=False,  # the model has no buffers; skip the per-forward broadcast
    )


def grad_scale(ranks: Optional[Ranks]) -> int:
    return 1 if ranks is None else ranks.world


def my_parts(parts: List[torch.Tensor], ranks: Ranks) -> List[torch.Tensor]:
    """Deal the global batch's micro-batches out in turn: rank r runs parts r, r+W, r+2W, ..."""
    return parts[ranks.rank :: ranks.world]


def sync_context(model, ranks: Optional[Ranks], last: bool):
    """Gradients are all-reduced once per step, on each rank's last micro-batch; the others accumulate."""
    if ranks is None or last:
        return contextlib.nullcontext()
    return model.no_sync()


def sum_across(values: List[float], device: str) -> List[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) for v in t.tolist()]


def finish() -> None:
    """Every rank waits for the others (rank 0 writes the last checkpoint), then leaves the group."""
    dist.barrier()
    dist.destroy_process_group()


def run(main: Callable[[], int]) -> int:
    """Run an entrypoint; once a process group exists, a failure exits at once (its SystemExit status, else 1).

    A normal interpreter exit would tear the group down, which can wait on a dead peer or on gloo threads;
    exiting hard guarantees the failing rank's status reaches its launcher (and its peers see it go).
    """
    try:
        return main()
    except SystemExit as e:
        if not dist.is_initialized():
            raise
        code = e.code if isinstance(e.code, int) else 1
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
        _exit_now(code or 1)
    except BaseException:
        if not dist.is_initialized():
            raise
        traceback.print_exc()
        _exit_now(1)
    return 1  # not reached


def _exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
