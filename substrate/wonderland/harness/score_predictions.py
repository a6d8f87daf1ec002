"""Score a predictions CSV against an answer key with the challenge metric (per domain + overall).

    python3 harness/score_predictions.py --predictions preds.csv --answers public.csv --out score.json [--split public]

predictions: ``id,answer`` (raw model output; the answer is extracted as the metric prescribes).
answers: ``id,prompt,answer[,domain]`` (domain detected from the prompt when absent).
A missing prediction counts as wrong (the count is printed).  Output, in the dev-scores shape the
leaderboard service validates: ``{ checkpoint: <predictions file>, split: <--split or the answers file's
name>, overall, n, domains: { <domain>: { score, n } } }``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys

sys.dont_write_bytecode = True  # keep sandboxes free of __pycache__
if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.generator import FAMILIES  # noqa: E402
from harness.metric import aggregate, score_output  # noqa: E402
from harness.parse import detect_domain  # noqa: E402


def read(path: str):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def score(predictions, answers) -> dict:
    pred = {}
    for r in predictions:
        if "id" not in r or "answer" not in r:
            raise ValueError("predictions need columns id,answer")
        pred[r["id"]] = r["answer"]
    results = []
    missing = 0
    for r in answers:
        domain = r.get("domain") or detect_domain(r.get("prompt", ""))
        if r["id"] not in pred:
            missing += 1
            results.append((domain, False))
            continue
        results.append((domain, score_output(r["answer"], pred[r["id"]])))
    agg = aggregate(results, list(FAMILIES))
    return {"overall": agg["overall"], "n": agg["n"], "domains": agg["domains"], "missing": missing}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", default=None, help="name of the half scored (default: the answers file's name)")
    args = ap.parse_args(argv)
    try:
        result = score(read(args.predictions), read(args.answers))
    except (ValueError, KeyError) as e:
        print(f"invalid predictions: {e}", file=sys.stderr)
        return 2
    split = args.split if args.split not in (None, "",
        "{split}") else os.path.splitext(os.path.basename(args.answers))[0]
    doc = {"checkpoint": args.predictions, "split": split, "overall": result["overall"], "n": result["n"],
        "domains": result["domains"]}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"score: {split} overall={doc['overall']:.4f} n={doc['n']} missing={result['missing']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
