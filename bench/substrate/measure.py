#!/usr/bin/env python3
"""Measure the reference substrate: the baseline's noise band over seeds, recipe variants, and timing.

    /usr/bin/python3 bench/substrate/measure.py --secret-seed N [--seeds 5] [--variant-seeds 2]
        [--size cpu] [--work DIR] [--json OUT.json] [--markdown OUT.md] [--only NAME ...]

Plays the leaderboard's role (outside any sandbox): builds the hidden split from the secret seed, then for
every run goes through the substrate's own entrypoints exactly as the control plane would -- prepare-data,
train, evaluate (every checkpoint, dev), predict (hidden prompts, final checkpoint), score (public and
private) -- and reports mean and std over seeds. Timing is the wall clock of prepare + train + evaluate of
one checkpoint (one candidate), with the 1-minute load average at its start (the machine may be shared).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUB = os.path.join(ROOT, "substrate", "wonderland")
PY = "/usr/bin/python3"
DOMAINS = ["bit_manipulation", "gravity", "unit_conversion", "cipher", "numeral", "equation"]


def _mix(r, **w):
    r["data"]["mix"].update(w)


def _set(path, value):
    def edit(r):
        node = r
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value

    return edit


def _both(*edits):
    def edit(r):
        for e in edits:
            e(r)

    return edit


VARIANTS = {
    "baseline": lambda r: None,
    "2x lr": lambda r: r["train"].__setitem__("lr", r["train"]["lr"] * 2),
    "equation-heavy mix (equation weight 4)": lambda r: _mix(r, equation=4.0),
    "equation-heavy + 4000 synthetic equations": _both(
        lambda r: _mix(r, equation=4.0), _set("data.synthetic", {"count": 4000, "mix": {"equation": 1.0},
            "difficulty": {}, "knobs": {}})
    ),
    "2x steps": lambda r: r["train"].__setitem__("steps", r["train"]["steps"] * 2),
    "rebalanced (gravity/unit 1.5, numeral/equation 0.5)": lambda r: _mix(r, gravity=1.5, unit_conversion=1.5,
        numeral=0.5, equation=0.5),
    "LoRA rank 16, lr 1e-2": _both(_set("lora.rank", 16), _set("train.lr", 0.01)),
}


CPU = {"last": 0.0}


def run(args, log):
    """Runs one entrypoint; returns (exit code, wall seconds). CPU["last"] = its user+sys CPU seconds."""
    t0 = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([PY, *args], cwd=SUB, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(args)}\n{r.stdout}{r.stderr}\n")
    return r.returncode, time.time() - t0


def one_run(name, edit, seed, size, work, hidden, log):
    with open(os.path.join(SUB, "recipe.yaml")) as f:
        recipe = yaml.safe_load(f)
    recipe = copy.deepcopy(recipe)
    edit(recipe)
    d = os.path.join(work, name.replace(" ", "_").replace("/", "-").replace("(", "").replace(")", "").replace(",", ""),
        str(seed))
    os.makedirs(d, exist_ok=True)
    rpath = os.path.join(d, "recipe.yaml")
    with open(rpath, "w") as f:
        yaml.safe_dump(recipe, f, sort_keys=False)
    load = os.getloadavg()[0]
    rc, t_prep = run(["model/prepare_data.py", "--recipe", rpath, "--out", f"{d}/data", "--size", size, "--seed",
        str(seed)], log)
    assert rc == 0, f"prepare-data failed, see {log}"
    cpu = CPU["last"]
    rc, t_train = run(
        ["model/train.py", "--recipe", rpath, "--data-dir", f"{d}/data", "--base", "base/checkpoint.pt", "--out",
            f"{d}/ck", "--size", size, "--seed", str(seed)], log
    )
    cpu += CPU["last"]
    summary = json.load(open(f"{d}/ck/train-summary.json"))
    res = {"seed": seed, "status": summary["status"], "loadavg": round(load, 2), "prepare_s": round(t_prep, 1),
        "train_s": round(t_train, 1)}
    if rc == 3 or not summary["checkpoints"]:
        return res
    evals = []
    for i, c in enumerate(summary["checkpoints"]):
        rc, t_eval = run(["model/evaluate.py", "--checkpoint", f"{d}/ck/{c}", "--split", "dev", "--out",
            f"{d}/{c}.dev.json"], log)
        assert rc == 0, f"evaluate failed, see {log}"
        if i == len(summary["checkpoints"]) - 1:
            res["evaluate_s"] = round(t_eval, 1)
            res["candidate_cpu_s"] = round(cpu + CPU["last"], 1)
        evals.append(json.load(open(f"{d}/{c}.dev.json")))
    last = summary["checkpoints"][-1]
    rc, _ = run(["model/predict.py", "--checkpoint", f"{d}/ck/{last}", "--prompts", f"{hidden}/prompts.csv", "--out",
        f"{d}/pred.csv"], log)
    assert rc == 0, f"predict failed, see {log}"
    for half in ("public", "private"):
        rc, _ = run(["harness/score_predictions.py", "--predictions", f"{d}/pred.csv", "--answers",
            f"{hidden}/{half}.csv", "--out", f"{d}/{half}.json", "--split", half], log)
        assert rc == 0
        res[half] = json.load(open(f"{d}/{half}.json"))
    res["dev"] = evals[-1]
    res["devByCheckpoint"] = {c: e["overall"] for c, e in zip(summary["checkpoints"], evals)}
    res["candidate_s"] = round(t_prep + t_train + res["evaluate_s"], 1)
    return res


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def summarise(runs):
    ok = [r for r in runs if "dev" in r]
    out = {"runs": len(runs), "diverged": sum(1 for r in runs if r["status"] == "diverged")}
    for key, get in [
        ("dev", lambda r: r["dev"]["overall"]),
        ("public", lambda r: r["public"]["overall"]),
        ("private", lambda r: r["private"]["overall"]),
        ("candidate_s", lambda r: r["candidate_s"]),
        ("candidate_cpu_s", lambda r: r.get("candidate_cpu_s")),
    ]:
        m, s = stats([get(r) for r in ok])
        out[key], out[key + "_std"] = m, s
    out["dev_domains"] = {d: stats([r["dev"]["domains"][d]["score"] for r in ok])[0] for d in DOMAINS}
    out["public_domains"] = {d: stats([r["public"]["domains"][d]["score"] for r in ok])[0] for d in DOMAINS}
    return out


def fmt(x, s=None):
    if x is None:
        return "—"
    return f"{x:.3f}" + (f" ± {s:.3f}" if s is not None else "")


def markdown(results, meta):
    lines = [
        f"Measured {meta['date']} with `bench/substrate/measure.py` (size `{meta['size']}`, "
        f"hidden split secret seed {meta['secret_seed']}, "
        f"{meta['seeds']} baseline seeds, {meta['variant_seeds']} per variant; ± = std over seeds).",
        "",
        "| recipe | dev | dev equation | public LB | private LB | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        s = r["summary"]
        lines.append(
            f"| {name} | {fmt(s['dev'], s['dev_std'])} | {fmt(s['dev_domains']['equation'])} | "
            f"{fmt(s['public'], s['public_std'])} | "
            f"{fmt(s['private'], s['private_std'])} | {s['runs'] - s['diverged']}"
            f"{' (' + str(s['diverged']) + ' diverged)' if s['diverged'] else ''} |"
        )
    lines += ["", "Per domain (mean):", "", "| recipe | split | " + " | ".join(DOMAINS) + " |",
        "|---|---|" + "---|" * len(DOMAINS)]
    for name, r in results.items():
        s = r["summary"]
        for split in ("dev", "public"):
            lines.append(f"| {name} | {split} | " + " | ".join(fmt(s[f'{split}_domains'][d]) for d in DOMAINS) + " |")
    base = results.get("baseline", {}).get("summary")
    if base:
        lines += [
            "",
            f"Timing (one candidate = prepare-data + train + evaluate of one checkpoint, size `{meta['size']}`): "
            f"mean wall {fmt(base['candidate_s'], base['candidate_s_std'])} s over the baseline runs, "
            f"CPU time (user+sys; ≈ the wall time on an idle machine, the jobs are single-threaded) "
            f"{fmt(base['candidate_cpu_s'], base['candidate_cpu_s_std'])} s; "
            f"1-minute load average at their start: "
            f"{', '.join(str(r['loadavg']) for r in results['baseline']['runs'])} "
            f"(2 cores; other jobs shared them).",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secret-seed", type=int, required=True)
    ap.add_argument("--seeds", type=int, default=5, help="baseline seeds (noise band)")
    ap.add_argument("--variant-seeds", type=int, default=2)
    ap.add_argument("--size", default="cpu")
    ap.add_argument("--work", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--only", nargs="*", default=None, help="variant names to run (default: all)")
    args = ap.parse_args(argv)

    work = args.work or tempfile.mkdtemp(prefix="wonderland-bench-")
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "commands.log")
    hidden = os.path.join(work, "hidden")
    rc, _ = run(["harness/hidden_split.py", "--secret-seed", str(args.secret_seed), "--out", hidden], log)
    assert rc == 0
    results = {}
    for name, edit in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        n = args.seeds if name == "baseline" else args.variant_seeds
        runs = []
        for seed in range(1, n + 1):
            r = one_run(name, edit, seed, args.size, work, hidden, log)
            runs.append(r)
            print(
                f"{name} seed {seed}: {r['status']} dev={r.get('dev', {}).get('overall')} "
                f"public={r.get('public', {}).get('overall')} "
                f"private={r.get('private', {}).get('overall')} candidate={r.get('candidate_s')}s load={r['loadavg']}",
                flush=True,
            )
        results[name] = {"runs": runs, "summary": summarise(runs)}
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    meta = {"date": time.strftime("%Y-%m-%d"), "size": args.size, "secret_seed": args.secret_seed, "seeds": args.seeds,
        "variant_seeds": args.variant_seeds}
    md = markdown(results, meta)
    print(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
