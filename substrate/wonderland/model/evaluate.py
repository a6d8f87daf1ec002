"""`evaluate` entrypoint (frozen): per-domain accuracy of one checkpoint on a split.

    python3 -m model.evaluate --checkpoint CKPT --split dev --out scores.json [--device auto] [--limit N]

``--split dev`` is the frozen ``data/dev.csv``; any other value is read as a CSV path with
``id,prompt,answer`` (and optionally ``domain``).  Every prompt goes through the real metric path:
model text -> ``\\boxed{...}`` -> harness extraction -> harness verification.  A checkpoint trained at
size ``tiny`` is evaluated on a fixed 1/10 subsample of the split (every 10th row) to stay fast.
Output (schemas/documents/dev-scores.schema.json):
``{ checkpoint, split, overall, n, domains: { <domain>: { score, n } } }``.
"""
from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):  # run as a file (python3 model/x.py): make the substrate root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import time

from model import common  # noqa: F401  (pins threads before torch)
from model.common import (
    DOMAINS, SIZES, SUBSTRATE_ROOT, checkpoint_size, load_model, pick_device, read_rows, setup_torch, write_json,
)
from model.infer import as_submission, generate_answers
from harness.metric import aggregate, score_output
from harness.parse import detect_domain

SPLITS = {"dev": os.path.join("data", "dev.csv")}


def split_path(split: str) -> str:
    if split in SPLITS:
        return os.path.join(SUBSTRATE_ROOT, SPLITS[split])
    return split


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="evaluate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N rows (0 = all)")
    args = ap.parse_args(argv)

    t0 = time.time()
    setup_torch(0)
    device = pick_device(args.device)
    rows = read_rows(split_path(args.split))
    stride = SIZES.get(checkpoint_size(args.checkpoint), SIZES["cpu"])["eval_stride"]
    rows = rows[::stride]
    if args.limit > 0:
        rows = rows[: args.limit]
    model = load_model(args.checkpoint, device)
    outputs = [as_submission(a) for a in generate_answers(model, [r["prompt"] for r in rows])]
    results = [(r.get("domain") or detect_domain(r["prompt"]), score_output(r["answer"], o)) for r, o in zip(rows,
        outputs)]
    agg = aggregate(results, DOMAINS)
    doc = {"checkpoint": args.checkpoint, "split": args.split, "overall": agg["overall"], "n": agg["n"],
        "domains": agg["domains"]}
    write_json(args.out, doc)
    per = " ".join(f"{d}={v['score']:.3f}" for d, v in agg["domains"].items())
    print(f"evaluate: {args.split} overall={agg['overall']:.4f} n={agg['n']} {per} ({time.time() - t0:.1f}s)",
        flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
