"""`prepare-data` entrypoint (frozen wrapper around the editable pipeline/).

    python3 -m model.prepare_data --recipe recipe.yaml --out DATA_DIR [--size tiny|cpu|gpu] [--seed N]

Runs ``pipeline.build.build(recipe, seed)`` and writes ``DATA_DIR/train.csv`` (``id,prompt,answer``; ids made
unique) and ``DATA_DIR/data-summary.json`` (rows per domain and per source, the pipeline's own summary,
the recipe sha256, the sha256 of train.csv).  At size ``tiny`` only the first 300 rows are kept.
"""
from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):  # run as a file (python3 model/x.py): make the substrate root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import collections
import hashlib
import importlib
import time

from harness.generator import FAMILIES

SUBSTRATE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_ROWS = 300


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prepare-data", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--out", required=True, help="data dir")
    ap.add_argument("--size", default="cpu")
    ap.add_argument("--seed", default=None, help="overrides the recipe seed")
    args = ap.parse_args(argv)

    import json

    import yaml

    t0 = time.time()
    with open(args.recipe, "rb") as f:
        raw = f.read()
    recipe = yaml.safe_load(raw.decode("utf-8")) or {}
    seed = int(args.seed) if args.seed not in (None, "", "{seed}") else int(recipe.get("seed", 0))
    if args.size not in ("tiny", "cpu", "gpu"):
        raise SystemExit(f"unknown size {args.size!r}")

    # the pipeline is the sandbox's own code: import it from the working directory first
    sys.path.insert(0, os.getcwd())
    build = importlib.import_module("pipeline.build").build
    rows, pipeline_summary = build(recipe, seed)
    if args.size == "tiny":
        rows = rows[:TINY_ROWS]

    used = collections.Counter()
    out_rows = []
    for r in rows:
        if not r.get("prompt") or r.get("answer") in (None, ""):
            raise SystemExit("the pipeline produced a row without prompt or answer")
        rid = str(r.get("id") or "row")
        used[rid] += 1
        out_rows.append({"id": rid if used[rid] == 1 else f"{rid}-{used[rid] - 1}", "prompt": r["prompt"],
            "answer": str(r["answer"]), "domain": r.get("domain", ""), "source": r.get("source", "")})

    os.makedirs(args.out, exist_ok=True)
    import csv

    path = os.path.join(args.out, "train.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "prompt", "answer"], extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(out_rows)
    with open(path, "rb") as f:
        train_sha = hashlib.sha256(f.read()).hexdigest()
    domains = collections.Counter(r["domain"] for r in out_rows)
    summary = {
        "rows": len(out_rows),
        "domains": {d: domains.get(d, 0) for d in FAMILIES},
        "sources": dict(sorted(collections.Counter(r["source"] or "unknown" for r in out_rows).items())),
        "uniquePrompts": len({r["prompt"] for r in out_rows}),
        "seed": seed,
        "size": args.size,
        "recipeSha256": hashlib.sha256(raw).hexdigest(),
        "trainSha256": train_sha,
        "pipeline": pipeline_summary,
        "seconds": round(time.time() - t0, 3),
    }
    with open(os.path.join(args.out, "data-summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"prepare-data: {len(out_rows)} rows {summary['domains']} -> {path} ({summary['seconds']}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
