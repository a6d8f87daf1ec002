"""`predict` entrypoint (frozen): answers for a prompts CSV, as the challenge expects them.

    python3 -m model.predict --checkpoint CKPT --prompts prompts.csv --out predictions.csv [--device auto]

Reads ``id,prompt`` (other columns ignored) and writes ``id,answer`` where answer is the model's text
wrapped as ``\\boxed{...}``; the leaderboard scores it with harness/score_predictions.py.
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
from model.common import load_model, pick_device, read_rows, setup_torch, write_rows
from model.infer import as_submission, generate_answers


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="predict", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)

    t0 = time.time()
    setup_torch(0)
    device = pick_device(args.device)
    rows = read_rows(args.prompts)
    model = load_model(args.checkpoint, device)
    answers = generate_answers(model, [r["prompt"] for r in rows])
    write_rows(args.out, [{"id": r["id"], "answer": as_submission(a)} for r, a in zip(rows, answers)], ["id", "answer"])
    print(f"predict: {len(rows)} rows -> {args.out} ({time.time() - t0:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
