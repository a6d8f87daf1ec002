"""Multi-rank (DDP) training: 2 gloo ranks on loopback reproduce the 1-rank run; a failing rank fails the run.

The ranks are launched the way the executors launch them: the `train` command substrate.yaml renders, one
process per rank, with MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK/LOCAL_RANK in the environment.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
import yaml

from model import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "WONDERLAND_DIST_TIMEOUT")
# Measured (tiny, seed 5, 8 steps): 2 ranks vs 1 differ by max |dw| 1.3e-4 and |dW|/|W - W0| 5.5e-4, the same
# as 1 rank vs 1 rank with 16 micro-batches instead of 8 (1.4e-4, 6.9e-4): float summation order, which
# Adam amplifies on weights whose gradient is near zero.  Ranks that ran the same half of each batch: 6e-3, 0.89.
MAX_ABS_TOL, REL_L2_TOL, LOSS_TOL = 1e-3, 1e-2, 1e-4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(rank=None, world=None, port=None, **extra):
    env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
    env["OMP_NUM_THREADS"] = "1"
    if world is not None:
        env.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK="0", NODE_RANK=str(rank))
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WONDERLAND_DIST_TIMEOUT="30")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def train_command(data, out, recipe="recipe.yaml", size="tiny"):
    """The `train` entrypoint exactly as substrate.yaml renders it."""
    with open(os.path.join(ROOT, "substrate.yaml")) as f:
        template = yaml.safe_load(f)["entrypoints"]["train"]["command"]
    values = {"recipe": recipe, "data_dir": data, "base_checkpoint": "base/checkpoint.pt",
              "checkpoints_dir": out, "size": size, "device": "cpu", "seed": "5"}
    return [arg.format(**values) for arg in template]


def launch(cmd, env, stdout_to=subprocess.PIPE):
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout_to, stderr=subprocess.PIPE, text=True)


def run_ranks(commands, timeout=120, alongside=()):
    """Start one process per rank (command per rank) and the ``alongside`` single-process commands; wait for
    all; returns [(rc, stdout, stderr)] in that order."""
    port = free_port()
    procs = [launch(cmd, rank_env(r, len(commands), port)) for r, cmd in enumerate(commands)]
    procs += [launch(cmd, rank_env()) for cmd in alongside]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out, err))
    return results


def weights(ckpt_dir, step):
    return torch.load(os.path.join(ckpt_dir, f"step-{step:06d}", "model.pt"), weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("ddp")
    data = str(work / "data")
    subprocess.run([sys.executable, "model/prepare_data.py", "--recipe", "recipe.yaml", "--out", data,
                    "--size", "tiny", "--seed", "5"], cwd=ROOT, check=True, capture_output=True)
    one = subprocess.run(train_command(data, str(work / "one")), cwd=ROOT, env=rank_env(), capture_output=True,
                         text=True)
    assert one.returncode == 0, one.stdout + one.stderr
    two = run_ranks([train_command(data, str(work / "two")), train_command(data, str(work / "two-rank1"))])
    for rc, out, err in two:
        assert rc == 0, out + err
    return {"work": work, "data": data, "two": two}


def test_two_ranks_train_to_the_one_rank_weights_within_tolerance(runs):
    work = runs["work"]
    one = json.load(open(work / "one" / "train-summary.json"))
    two = json.load(open(work / "two" / "train-summary.json"))
    assert two["worldSize"] == 2 and "worldSize" not in one
    assert two["checkpoints"] == one["checkpoints"] == ["step-000004", "step-000008"]
    assert two["batchSize"] == one["batchSize"] == 16  # the global batch, not per rank
    base = torch.load(os.path.join(ROOT, "base", "checkpoint.pt"), weights_only=True)["state_dict"]
    for step in (4, 8):
        a, b = weights(work / "one", step), weights(work / "two", step)
        assert a.keys() == b.keys()
        max_abs = max(float((a[k] - b[k]).abs().max()) for k in a)
        diff = sum(float(((a[k] - b[k]) ** 2).sum()) for k in a) ** 0.5
        moved = sum(float(((a[k] - base[k]) ** 2).sum()) for k in a) ** 0.5
        assert moved > 1e-3  # training moved the weights, so the comparison means something
        assert max_abs < MAX_ABS_TOL and diff / moved < REL_L2_TOL, (step, max_abs, diff / moved)
        ia = json.load(open(work / "one" / f"step-{step:06d}" / "checkpoint.json"))
        ib = json.load(open(work / "two" / f"step-{step:06d}" / "checkpoint.json"))
        assert abs(ia["trainLoss"] - ib["trainLoss"]) < LOSS_TOL
    for pa, pb in zip(one["lossCurve"], two["lossCurve"]):
        assert pa["step"] == pb["step"] and abs(pa["loss"] - pb["loss"]) < LOSS_TOL


def test_only_rank_0_writes_or_logs(runs):
    assert not (runs["work"] / "two-rank1").exists()
    rc, out, _ = runs["two"][1]
    assert out == ""
    assert "world_size=2" in runs["two"][0][1]


def test_world_size_1_is_the_single_process_run_byte_for_byte(runs):
    work = runs["work"]
    r = subprocess.run(train_command(runs["data"], str(work / "ws1")), cwd=ROOT, capture_output=True, text=True,
                       env=rank_env(WORLD_SIZE=1, RANK=0, MASTER_ADDR="127.0.0.1", MASTER_PORT=free_port()))
    assert r.returncode == 0, r.stdout + r.stderr
    for step in ("step-000004", "step-000008"):
        assert (work / "ws1" / step / "model.pt").read_bytes() == (work / "one" / step / "model.pt").read_bytes()


def test_the_two_rank_gradient_is_the_global_batch_gradient(runs, tmp_path):
    """Adam hides a gradient's scale, so check the gradient itself: sharded + all-reduced == whole batch."""
    worker = [sys.executable, "tests/ddp_grad_worker.py", runs["data"]]
    ranks = [worker + [str(tmp_path / f"g2-{r}.pt")] for r in range(2)]
    for rc, out, err in run_ranks(ranks, alongside=[worker + [str(tmp_path / "g1.pt")]]):
        assert rc == 0, out + err
    g1 = torch.load(tmp_path / "g1.pt", weights_only=True)
    r0, r1 = (torch.load(tmp_path / f"g2-{r}.pt", weights_only=True) for r in range(2))
    assert float((g1["losses"] - r0["losses"]).abs().max()) < 1e-6  # (loss, answer loss) of the global batch
    for name, g in g1["grads"].items():
        assert torch.equal(r0["grads"][name], r1["grads"][name])  # after the all-reduce every rank agrees
        scale = float(g.abs().max()) + 1e-12
        assert float((r0["grads"][name] - g).abs().max()) / scale < 1e-4, name


@pytest.mark.parametrize(
    "env, message",
    [
        ({"WORLD_SIZE": "2"}, "RANK is not set"),
        ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK=2 outside 0..1"),
        ({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "h"}, "MASTER_PORT is not set"),
        ({"WORLD_SIZE": "two"}, "not an integer"),
        ({"WORLD_SIZE": "0"}, "expected >= 1"),
    ],
)
def test_a_bad_rank_environment_is_refused(env, message):
    with pytest.raises(SystemExit, match=message):
        distributed.from_env(env)


def test_the_rank_environment_is_read():
    assert distributed.from_env({}) is None and distributed.from_env({"WORLD_SIZE": "1", "RANK": "0"}) is None
    env = {"WORLD_SIZE": "4", "RANK": "3", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    assert distributed.from_env(env) == distributed.Ranks(rank=3, world=4, local_rank=0)


def test_a_rank_outside_the_world_exits_non_zero_at_once(runs, tmp_path):
    env = rank_env(2, 2, free_port())
    r = subprocess.run(train_command(runs["data"], str(tmp_path / "o")), cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "RANK=2 outside 0..1" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_peer_that_never_arrives_fails_the_rendezvous_in_bounded_time(runs, tmp_path):
    env = rank_env(0, 2, free_port(), WONDERLAND_DIST_TIMEOUT=3)
    t0 = time.time()
    r = subprocess.run(train_command(runs["data"], str(tmp_path / "o")), cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=90)
    assert r.returncode != 0, r.stdout + r.stderr
    assert time.time() - t0 < 60


def test_a_rank_killed_mid_training_fails_the_others(runs, tmp_path):
    recipe = tmp_path / "long.yaml"
    text = open(os.path.join(ROOT, "recipe.yaml")).read()
    recipe.write_text(text.replace("steps: 400 ", "steps: 5000 ").replace("batch_size: 64", "batch_size: 16")
                      .replace("checkpoint_every: 200", "checkpoint_every: 10"))
    port = free_port()
    procs = [launch(train_command(runs["data"], str(tmp_path / f"ck{r}"), str(recipe), "cpu"), rank_env(r, 2, port),
                    stdout_to=subprocess.DEVNULL) for r in range(2)]
    try:
        deadline = time.time() + 120
        while not (tmp_path / "ck0" / "step-000010" / "checkpoint.json").exists():  # 10 steps done: under way
            assert procs[0].poll() is None and time.time() < deadline, procs[0].stderr.read()
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        t0 = time.time()
        rc = procs[0].wait(timeout=60)
        assert rc != 0 and time.time() - t0 < 60
        assert "by peer" in procs[0].stderr.read()  # gloo: "Connection closed/reset by peer"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_diverging_run_stops_every_rank_with_status_3(runs, tmp_path):
    recipe = tmp_path / "hot.yaml"
    text = open(os.path.join(ROOT, "recipe.yaml")).read()
    recipe.write_text(text.replace("lr: 0.003", "lr: 50.0").replace("grad_clip: 1.0", "grad_clip: 0"))
    results = run_ranks([train_command(runs["data"], str(tmp_path / f"ck{r}"), str(recipe)) for r in range(2)])
    assert [rc for rc, _, _ in results] == [3, 3], results
    assert "DIVERGED" in results[0][1]
    assert json.load(open(tmp_path / "ck0" / "train-summary.json"))["status"] == "diverged"
    assert not (tmp_path / "ck1").exists()
