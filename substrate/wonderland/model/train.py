"""`train` entrypoint (frozen): supervised fine-tuning of the base checkpoint on {data_dir}/train.csv.

    python3 -m model.train --recipe recipe.yaml --data-dir DATA --base base/checkpoint.pt \
        --out CKPTS [--size tiny|cpu|gpu] [--device auto|cpu|cuda] [--seed N]

Reads the ``train`` and ``lora`` sections of the recipe.  Writes ``CKPTS/step-000123/`` (checkpoint.json +
model.pt, LoRA adapters merged) every ``checkpoint_every`` steps and at the last step, and
``CKPTS/train-summary.json``.  A NaN/inf loss, or a smoothed loss above ln(vocab)+1 (worse than
guessing), stops the run: status ``diverged``, ``DIVERGED`` printed, exit code 3.

With ``WORLD_SIZE`` > 1 (torchrun's environment, see model/distributed.py) it trains with DDP: every rank
draws the same global batches and runs its share of their micro-batches; rank 0 alone logs and writes.
"""
from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):  # run as a file (python3 model/x.py): make the substrate root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import math
import time

from model import common  # noqa: F401  (pins threads before torch)
from model.common import (
    SIZES,
    check_size,
    load_model,
    load_recipe,
    pick_device,
    read_rows,
    save_model,
    setup_torch,
    sha256_file,
    write_json,
)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from model import distributed  # noqa: E402
from model.encoding import BLOCK, PAD, VOCAB_SIZE, encode_example  # noqa: E402
from model.gpt import count_params  # noqa: E402

TRAIN_DEFAULTS = {
    "lr": 3e-3,
    "schedule": "cosine",  # constant | cosine | linear
    "warmup_steps": 30,
    "min_lr_ratio": 0.1,  # cosine/linear decay to lr * min_lr_ratio
    "steps": 400,
    "epochs": None,  # if set, overrides steps: ceil(epochs * rows / batch_size)
    "batch_size": 64,
    "grad_clip": 1.0,  # 0 = off
    "weight_decay": 0.01,
    "checkpoint_every": 200,
    "prompt_loss_weight": 0.0,  # weight of the loss on input (prompt) tokens; answers always weigh 1
}
LORA_DEFAULTS = {"rank": 0, "alpha": 16.0}
DIVERGENCE_LOSS = math.log(VOCAB_SIZE) + 1.0


def lr_at(step: int, total: int, cfg: dict) -> float:
    base = float(cfg["lr"])
    warm = int(cfg["warmup_steps"])
    if warm > 0 and step < warm:
        return base * (step + 1) / warm
    sched = str(cfg["schedule"]).lower()
    if sched == "constant":
        return base
    progress = (step - warm) / max(1, total - warm)
    floor = base * float(cfg["min_lr_ratio"])
    if sched == "cosine":
        return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if sched == "linear":
        return base - (base - floor) * min(1.0, progress)
    raise SystemExit(f"unknown schedule {sched!r}; expected constant|cosine|linear")


def build_tensors(rows):
    """Right-padded ids (N, BLOCK), lengths (N,), target mask (N, BLOCK): 1 answer target, -1 prompt, 0 other."""
    n = len(rows)
    ids = torch.full((n, BLOCK), PAD, dtype=torch.long)
    mask = torch.zeros((n, BLOCK), dtype=torch.int8)
    lens = torch.zeros(n, dtype=torch.long)
    for i, r in enumerate(rows):
        seq, m = encode_example(r["prompt"], r["answer"])
        seq, m = seq[:BLOCK], m[:BLOCK]
        ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[i, : len(m)] = torch.tensor(m, dtype=torch.int8)
        lens[i] = len(seq)
    return ids, lens, mask


def batch_loss(model, ids, lens, mask, prompt_w: float):
    """Weighted next-token loss: answer targets weigh 1, prompt tokens ``prompt_w``.  Returns (loss, answer loss)."""
    T = int(lens.max())
    x = ids[:, : T - 1]
    y = ids[:, 1:T]
    m = mask[:, 1:T]
    logits = model(x)
    per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)
    answer = (m == 1).float()
    w = answer + prompt_w * (m == -1).float()
    loss = (per * w).sum() / w.sum().clamp(min=1.0)
    return loss, float(((per * answer).sum() / answer.sum().clamp(min=1.0)).item())


def accumulate_step(model, ids, lens, mask, prompt_w: float, chunks: int = 8, ranks=None):
    """Forward + backward of one batch, as ``chunks`` length-sorted micro-batches.

    The loss is exactly the batch's weighted mean (every micro-batch is divided by the whole batch's
    weight), so the gradient is the full batch's; sorting by length only cuts padding: cipher rows are
    ~115 tokens, most others under 70.  On the 2-core reference box 8 micro-batches of a 64-row batch took
    0.09 s/step against 0.19 s for the padded batch.  Returns (loss, answer loss) as floats.

    With ``ranks`` (several DDP processes) the batch is the global one: this rank runs only its share of the
    micro-batches (at least one each), still divided by the global weight, and DDP sums the ranks' gradients,
    so the gradient is the global batch's; the returned sums are this rank's share (add them across ranks).
    """
    order = torch.sort(lens, stable=True).indices
    m_all = mask[:, 1:]
    weight = ((m_all == 1).float() + prompt_w * (m_all == -1).float()).sum().clamp(min=1.0)
    n_answer = (m_all == 1).float().sum().clamp(min=1.0)
    total, answer_total = 0.0, 0.0
    parts = [p for p in torch.tensor_split(order, min(chunks, len(order))) if len(p) > 0]
    if ranks is not None:
        parts = distributed.my_parts(parts, ranks)
    for i, part in enumerate(parts):
        with distributed.sync_context(model, ranks, i == len(parts) - 1):
            scale = distributed.grad_scale(ranks)
            t, a = _micro_step(model, ids[part], lens[part], mask[part], prompt_w, weight, scale)
        total += t
        answer_total += a
    return total, answer_total / float(n_answer)


def _micro_step(model, ids, lens, mask, prompt_w: float, weight, grad_scale: int):
    T = int(lens.max())
    x = ids[:, : T - 1]
    y = ids[:, 1:T]
    m = mask[:, 1:T]
    logits = model(x)
    per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)
    answer = (m == 1).float()
    w = answer + prompt_w * (m == -1).float()
    loss = (per * w).sum() / weight
    if grad_scale == 1:
        loss.backward()
    else:  # DDP averages over the ranks; scaling by their number makes the gradient the global batch's
        (loss * grad_scale).backward()
    return float(loss.item()), float((per * answer).sum().item())


def batches(n: int, batch: int, gen: torch.Generator):
    """Endless batches of row indices: seeded permutations of the rows, cut into batches.

    (Sorting batches by length would cut padding, but length identifies the domain here, and single-domain
    batches made training markedly worse -- 0.36 instead of 0.46 dev at 600 steps -- so batches stay mixed.)
    """
    batch = min(batch, n)
    while True:
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n - batch + 1, batch):
            yield perm[s : s + batch]


def _quiet(*_args, **_kwargs) -> None:
    """Ranks other than 0 print nothing: one log per run."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="train", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--base", required=True, help="base checkpoint (.pt file or checkpoint dir)")
    ap.add_argument("--out", required=True, help="checkpoints dir")
    ap.add_argument("--size", default="cpu")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", default=None, help="overrides the recipe seed")
    args = ap.parse_args(argv)
    ranks = distributed.from_env()  # None: one process, no process group (WORLD_SIZE unset or 1)
    main_rank = ranks is None or ranks.is_main
    log = print if main_rank else _quiet

    t0 = time.time()
    size = check_size(args.size)
    recipe, recipe_sha = load_recipe(args.recipe)
    cfg = {**TRAIN_DEFAULTS, **(recipe.get("train") or {})}
    lora = {**LORA_DEFAULTS, **(recipe.get("lora") or {})}
    unknown = set(recipe.get("train") or {}) - set(TRAIN_DEFAULTS)
    if unknown:
        raise SystemExit(f"unknown train settings: {sorted(unknown)}; known: {sorted(TRAIN_DEFAULTS)}")
    seed = int(args.seed) if args.seed not in (None, "", "{seed}") else int(recipe.get("seed", 0))
    setup_torch(seed)
    device = pick_device(args.device)
    if ranks is not None:
        device = distributed.init(ranks, device)

    rows = read_rows(os.path.join(args.data_dir, "train.csv"))
    if not rows:
        raise SystemExit(f"{args.data_dir}/train.csv has no rows")
    ids, lens, tmask = build_tensors(rows)

    sz = SIZES[size]
    batch = int(cfg["batch_size"])
    if cfg.get("epochs"):
        steps = math.ceil(float(cfg["epochs"]) * len(rows) / batch)
    else:
        steps = int(cfg["steps"])
    if size == "tiny":
        steps, batch = min(steps, sz["max_steps"]), min(batch, sz["max_batch"])
    else:
        steps, batch = int(round(steps * sz["steps_scale"])), batch * sz["batch_scale"]
    every = max(1, int(cfg["checkpoint_every"]))
    if size == "tiny":
        every = max(1, steps // 2)
    steps = max(1, steps)
    if ranks is not None and batch < ranks.world:
        raise SystemExit(f"batch {batch} is smaller than WORLD_SIZE={ranks.world}: every rank needs a row")

    model = load_model(args.base, "cpu")
    rank = int(lora["rank"])
    if rank > 0:
        model.add_lora(rank, float(lora["alpha"]))
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": float(cfg["weight_decay"])}, {"params": no_decay, "weight_decay": 0.0}],
        lr=float(cfg["lr"]),
        betas=(0.9, 0.98),
        foreach=True,
    )
    net = model if ranks is None else distributed.wrap(model, ranks, device)
    log(
        f"train: rows={len(rows)} steps={steps} batch={batch} lr={cfg['lr']} schedule={cfg['schedule']} "
        f"lora_rank={rank} params={count_params(model)} trainable={count_params(model, True)} "
        f"device={device} size={size} seed={seed}" + ("" if ranks is None else f" world_size={ranks.world}"),
        flush=True,
    )

    if main_rank:  # the other ranks write nothing
        os.makedirs(args.out, exist_ok=True)
    base_sha = sha256_file(common.weights_path(args.base))
    gen = torch.Generator().manual_seed(seed)
    stream = batches(len(rows), batch, gen)
    ema = None
    curve = []
    checkpoints = []
    status = "ok"
    clip = float(cfg["grad_clip"])
    prompt_w = float(cfg["prompt_loss_weight"])
    done = 0

    def save(step: int) -> None:
        name = f"step-{step:06d}"
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        m = model
        if rank > 0:
            import copy

            m = copy.deepcopy(model).to("cpu")
            m.merge_lora()
        save_model(m, os.path.join(d, common.WEIGHTS))
        write_json(
            os.path.join(d, "checkpoint.json"),
            {
                "step": step,
                "seed": seed,
                "trainLoss": None if ema is None or not math.isfinite(ema) else round(ema, 6),
                "recipeSha256": recipe_sha,
                "size": size,
                "device": device,
                "diverged": False,
                "weights": common.WEIGHTS,
                "baseSha256": base_sha,
                "loraRank": rank,
                "model": model.cfg.to_dict(),
            },
        )
        checkpoints.append(name)

    for step in range(steps):
        idx = next(stream)
        lr = lr_at(step, steps, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        value, ans_loss = accumulate_step(
            net, ids[idx].to(device), lens[idx].to(device), tmask[idx].to(device), prompt_w, ranks=ranks
        )
        if ranks is not None:  # every rank sees the global loss, so all take the same divergence decision
            value, ans_loss = distributed.sum_across([value, ans_loss], device)
        ema = value if ema is None else 0.9 * ema + 0.1 * value
        if not math.isfinite(value) or (step >= 3 and ema > DIVERGENCE_LOSS):
            status = "diverged"
            log(f"step {step + 1}: loss {value:.4f} (smoothed {ema:.4f}) -- DIVERGED", flush=True)
            break
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        done = step + 1
        if done % 25 == 0 or done == steps:
            curve.append({"step": done, "loss": round(ema, 5), "lr": round(lr, 8)})
        if done % 100 == 0 or done == steps:
            log(
                f"step {done}/{steps} loss {ema:.4f} answer-loss {ans_loss:.4f} lr {lr:.2e} {time.time() - t0:.1f}s",
                flush=True,
            )
        if main_rank and (done % every == 0 or done == steps):
            save(done)

    summary = {
        "status": status,
        "steps": done,
        "checkpoints": checkpoints,
        "finalLoss": None if ema is None or not math.isfinite(ema) else round(ema, 6),
        "seconds": round(time.time() - t0, 3),
        "device": device,
        "size": size,
        "seed": seed,
        "plannedSteps": steps,
        "batchSize": batch,
        "rows": len(rows),
        "loraRank": rank,
        "trainableParams": count_params(model, True),
        "recipeSha256": recipe_sha,
        "lossCurve": curve,
    }
    if ranks is not None:
        summary["worldSize"] = ranks.world
        distributed.finish()
    if main_rank:
        write_json(os.path.join(args.out, "train-summary.json"), summary)
    if status == "diverged":
        log("DIVERGED", flush=True)
        return 3
    log(
        f"train: done in {summary['seconds']}s, final loss {summary['finalLoss']}, checkpoints {checkpoints}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(distributed.run(main))
