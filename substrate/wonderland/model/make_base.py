"""Build the base checkpoint deterministically (frozen; the result is committed as base/checkpoint.pt).

    python3 -m model.make_base [--out base/checkpoint.pt] [--steps N] [--check]

The base is the model every candidate post-trains from.  It is a freshly initialised transformer
(seeded) pre-trained briefly on a *generic* mix: easy-difficulty puzzles of every family, with the loss
on the whole sequence (prompt and answer), so it knows the format and the characters but has not
learnt the medium-difficulty rules the dev split asks for.
"""
from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):  # run as a file (python3 model/x.py): make the substrate root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import json
import time

from model import common
from model.common import DEFAULT_CONFIG, sha256_file, setup_torch, write_json

import torch  # noqa: E402

from harness.generator import FAMILIES, generate_rows  # noqa: E402
from model.gpt import GPT, count_params  # noqa: E402
from model.train import batch_loss, build_tensors, lr_at  # noqa: E402

BASE_SEED = 7
BASE_STEPS = 3000
BASE_BATCH = 64
BASE_ROWS = 60000
BASE_LR = 2e-3


def make(out: str, steps: int) -> dict:
    setup_torch(BASE_SEED)
    model = GPT(DEFAULT_CONFIG)
    rows = generate_rows(BASE_ROWS, {f: 1.0 for f in FAMILIES}, BASE_SEED, {f: "easy" for f in FAMILIES}, salt="base")
    ids, lens, tmask = build_tensors(rows)
    cfg = {"lr": BASE_LR, "warmup_steps": 20, "schedule": "cosine", "min_lr_ratio": 0.1}
    opt = torch.optim.AdamW(model.parameters(), lr=BASE_LR, betas=(0.9, 0.98), weight_decay=0.01)
    gen = torch.Generator().manual_seed(BASE_SEED)
    t0 = time.time()
    loss_v = None
    for step in range(steps):
        idx = torch.randint(0, len(rows), (BASE_BATCH,), generator=gen)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, cfg)
        loss, _ = batch_loss(model, ids[idx], lens[idx], tmask[idx], prompt_w=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_v = float(loss.item())
        if (step + 1) % 100 == 0:
            print(f"base step {step + 1}/{steps} loss {loss_v:.4f} {time.time() - t0:.1f}s", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    common.save_model(model, out)
    return {
        "file": os.path.basename(out),
        "sha256": sha256_file(out),
        "seed": BASE_SEED,
        "steps": steps,
        "batch": BASE_BATCH,
        "rows": BASE_ROWS,
        "lr": BASE_LR,
        "mix": "uniform over the six families, difficulty easy, loss on prompt+answer",
        "finalLoss": round(loss_v, 5) if loss_v is not None else None,
        "params": count_params(model),
        "model": model.cfg.to_dict(),
        "torch": torch.__version__,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(common.SUBSTRATE_ROOT, "base", "checkpoint.pt"))
    ap.add_argument("--steps", type=int, default=BASE_STEPS)
    ap.add_argument("--check", action="store_true", help="only verify the recorded sha256 of the existing base")
    args = ap.parse_args(argv)
    meta_path = os.path.splitext(args.out)[0] + ".json"
    if args.check:
        with open(meta_path) as f:
            meta = json.load(f)
        ok = os.path.exists(args.out) and sha256_file(args.out) == meta["sha256"]
        print("base checkpoint: sha256 ok" if ok else "base checkpoint: MISSING or sha256 mismatch")
        return 0 if ok else 1
    meta = make(args.out, args.steps)
    write_json(meta_path, meta)
    print(f"base: {args.out} sha256 {meta['sha256']} params {meta['params']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
