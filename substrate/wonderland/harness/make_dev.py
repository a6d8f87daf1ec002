"""Regenerate the frozen dev split deterministically from its public seed.

    python3 -m harness.make_dev [--out data/dev.csv] [--check]
"""
from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):  # run as a file (python3 model/x.py): make the substrate root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import csv
import io

from harness.generator import generate_rows
from harness.splits import DEV_DIFFICULTY, DEV_MIX, DEV_ROWS, DEV_SEED

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dev_csv_text() -> str:
    rows = generate_rows(DEV_ROWS, DEV_MIX, DEV_SEED, DEV_DIFFICULTY, salt="dev")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "prompt", "answer"], extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "dev.csv"))
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from a fresh generation")
    args = ap.parse_args(argv)
    text = dev_csv_text()
    if args.check:
        with open(args.out, encoding="utf-8", newline="") as f:
            same = f.read() == text
        print("dev split: up to date" if same else "dev split: STALE")
        return 0 if same else 1
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(f"wrote {args.out} ({DEV_ROWS} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
