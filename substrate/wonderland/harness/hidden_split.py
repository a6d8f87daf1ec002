"""Generate the hidden leaderboard split (run by the leaderboard service, OUTSIDE any sandbox).

    python3 harness/hidden_split.py (--secret-seed N | --secret-seed-file F) --out DIR \
[--public-rows 600] [--private-rows 600]

Writes into DIR:
- ``public.csv`` and ``private.csv``: ``id,prompt,answer,domain`` (the answer keys; never give them to a sandbox);
- ``prompts.csv``: ``id,prompt`` of both halves, interleaved in id order (what ``predict`` is run on);
- ``split.json``: row counts per domain and half, the mix, and the sha256 of every file (not the seed).
The split has its own domain mix and harder equation variants than dev (see harness/splits.py).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.generator import FAMILIES, generate_rows  # noqa: E402
from harness.splits import HIDDEN_DIFFICULTY, HIDDEN_MIX, HIDDEN_ROWS_PRIVATE, HIDDEN_ROWS_PUBLIC  # noqa: E402


def _write(path: str, rows, fields) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(secret_seed: int, n_public: int = HIDDEN_ROWS_PUBLIC, n_private: int = HIDDEN_ROWS_PRIVATE):
    # each half has the exact mix (largest-remainder counts), in its own seeded order
    public = generate_rows(n_public, HIDDEN_MIX, secret_seed, HIDDEN_DIFFICULTY, salt="hidden-public")
    private = generate_rows(n_private, HIDDEN_MIX, secret_seed, HIDDEN_DIFFICULTY, salt="hidden-private")
    return public, private


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    seed = ap.add_mutually_exclusive_group(required=True)
    seed.add_argument("--secret-seed", type=int)
    # The leaderboard passes a file: an argv shows in every user's process list.
    seed.add_argument("--secret-seed-file", help="file holding the secret seed (an integer)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--public-rows", type=int, default=HIDDEN_ROWS_PUBLIC)
    ap.add_argument("--private-rows", type=int, default=HIDDEN_ROWS_PRIVATE)
    args = ap.parse_args(argv)
    secret_seed = args.secret_seed
    if args.secret_seed_file is not None:
        with open(args.secret_seed_file) as f:
            text = f.read().strip()
        try:
            secret_seed = int(text)
        except ValueError:
            ap.error(f"--secret-seed-file: {args.secret_seed_file} does not hold an integer")
    os.makedirs(args.out, exist_ok=True)
    public, private = build(secret_seed, args.public_rows, args.private_rows)
    fields = ["id", "prompt", "answer", "domain"]
    shas = {
        "public.csv": _write(os.path.join(args.out, "public.csv"), public, fields),
        "private.csv": _write(os.path.join(args.out, "private.csv"), private, fields),
        "prompts.csv": _write(os.path.join(args.out, "prompts.csv"), sorted(public + private, key=lambda r: r["id"]),
            ["id", "prompt"]),
    }
    count = lambda rows: {f: sum(1 for r in rows if r["domain"] == f) for f in FAMILIES}  # noqa: E731
    meta = {
        "public": {"n": len(public), "domains": count(public)},
        "private": {"n": len(private), "domains": count(private)},
        "mix": HIDDEN_MIX,
        "difficulty": HIDDEN_DIFFICULTY,
        "sha256": shas,
    }
    with open(os.path.join(args.out, "split.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"hidden split: public={len(public)} private={len(private)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
