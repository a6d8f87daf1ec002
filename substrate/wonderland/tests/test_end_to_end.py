"""A tiny candidate end to end through the real entrypoints: prepare -> train -> evaluate -> predict -> score."""
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def run(*args, check=True):
    r = subprocess.run([PY, *args], cwd=ROOT, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    work = tmp_path_factory.mktemp("candidate")
    data, ck = work / "data", work / "ckpt"
    run("model/prepare_data.py", "--recipe", "recipe.yaml", "--out", str(data), "--size", "tiny", "--seed", "5")
    run("model/train.py", "--recipe", "recipe.yaml", "--data-dir", str(data), "--base", "base/checkpoint.pt",
        "--out", str(ck), "--size", "tiny", "--device", "cpu", "--seed", "5")
    return work


def test_prepare_data_outputs(candidate):
    rows = list(csv.DictReader(open(candidate / "data" / "train.csv", encoding="utf-8")))
    assert len(rows) == 300 and list(rows[0]) == ["id", "prompt", "answer"]
    assert len({r["id"] for r in rows}) == len(rows)
    summary = json.load(open(candidate / "data" / "data-summary.json"))
    assert summary["rows"] == 300 and summary["size"] == "tiny" and summary["seed"] == 5
    assert set(summary["domains"]) == {"bit_manipulation", "gravity", "unit_conversion", "cipher", "numeral",
        "equation"}


def test_train_outputs_follow_the_contract(candidate):
    summary = json.load(open(candidate / "ckpt" / "train-summary.json"))
    assert summary["status"] == "ok" and summary["steps"] == 8 and summary["device"] == "cpu"
    assert summary["checkpoints"] == ["step-000004", "step-000008"]
    assert isinstance(summary["finalLoss"], float) and summary["seconds"] >= 0
    for name in summary["checkpoints"]:
        info = json.load(open(candidate / "ckpt" / name / "checkpoint.json"))
        assert {"step", "seed", "trainLoss", "recipeSha256", "size", "device", "diverged"} <= set(info)
        assert info["seed"] == 5 and info["size"] == "tiny" and info["diverged"] is False
        assert len(info["recipeSha256"]) == 64
        assert (candidate / "ckpt" / name / "model.pt").exists()


def test_evaluate_writes_dev_scores(candidate):
    out = candidate / "scores.json"
    run("model/evaluate.py", "--checkpoint", str(candidate / "ckpt" / "step-000008"), "--split", "dev", "--out",
        str(out), "--device", "cpu")
    doc = json.load(open(out))
    assert set(doc) == {"checkpoint", "split", "overall", "n", "domains"}
    assert doc["split"] == "dev" and doc["n"] == 60  # tiny: every 10th dev row
    assert len(doc["domains"]) == 6 and sum(d["n"] for d in doc["domains"].values()) == 60
    assert 0.0 <= doc["overall"] <= 1.0


def test_predict_and_score_on_a_hidden_split(candidate):
    hidden = candidate / "hidden"
    run("harness/hidden_split.py", "--secret-seed", "77", "--out", str(hidden), "--public-rows", "30",
        "--private-rows", "30")
    assert {p.name for p in hidden.iterdir()} >= {"public.csv", "private.csv", "prompts.csv", "split.json"}
    preds = candidate / "preds.csv"
    run("model/predict.py", "--checkpoint", str(candidate / "ckpt" / "step-000008"), "--prompts",
        str(hidden / "prompts.csv"), "--out", str(preds))
    rows = list(csv.DictReader(open(preds, encoding="utf-8")))
    assert len(rows) == 60 and list(rows[0]) == ["id", "answer"]
    assert all(r["answer"].startswith("\\boxed{") for r in rows)
    out = candidate / "public-score.json"
    run("harness/score_predictions.py", "--predictions", str(preds), "--answers", str(hidden / "public.csv"), "--out",
        str(out), "--split", "public")
    doc = json.load(open(out))
    assert set(doc) == {"checkpoint", "split", "overall", "n",
        "domains"} and doc["split"] == "public" and doc["n"] == 30


def test_score_counts_a_perfect_and_a_missing_submission(tmp_path):
    hidden = tmp_path / "h"
    run("harness/hidden_split.py", "--secret-seed", "3", "--out", str(hidden), "--public-rows", "20", "--private-rows",
        "5")
    rows = list(csv.DictReader(open(hidden / "public.csv", encoding="utf-8")))
    with open(tmp_path / "p.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer"])
        for r in rows[:-1]:
            w.writerow([r["id"], "\\boxed{" + r["answer"] + "}"])
    r = run("harness/score_predictions.py", "--predictions", str(tmp_path / "p.csv"), "--answers",
        str(hidden / "public.csv"), "--out", str(tmp_path / "s.json"))
    assert "missing=1" in r.stdout
    assert json.load(open(tmp_path / "s.json"))["overall"] == pytest.approx(19 / 20)


def test_too_high_a_learning_rate_diverges(tmp_path):
    recipe = tmp_path / "hot.yaml"
    recipe.write_text(open(os.path.join(ROOT, "recipe.yaml")).read().replace("lr: 0.003",
        "lr: 50.0").replace("grad_clip: 1.0", "grad_clip: 0"))
    run("model/prepare_data.py", "--recipe", str(recipe), "--out", str(tmp_path / "d"), "--size", "tiny")
    ck = tmp_path / "ck"
    r = run("model/train.py", "--recipe", str(recipe), "--data-dir", str(tmp_path / "d"), "--base",
        "base/checkpoint.pt",
            "--out", str(ck), "--size", "tiny", "--device", "cpu", check=False)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "DIVERGED" in r.stdout
    assert json.load(open(ck / "train-summary.json"))["status"] == "diverged"


def test_lora_training_runs_and_merges(tmp_path):
    recipe = tmp_path / "lora.yaml"
    recipe.write_text(open(os.path.join(ROOT, "recipe.yaml")).read().replace("rank: 0 ", "rank: 4 "))
    run("model/prepare_data.py", "--recipe", str(recipe), "--out", str(tmp_path / "d"), "--size", "tiny")
    run("model/train.py", "--recipe", str(recipe), "--data-dir", str(tmp_path / "d"), "--base", "base/checkpoint.pt",
        "--out", str(tmp_path / "ck"), "--size", "tiny", "--device", "cpu")
    s = json.load(open(tmp_path / "ck" / "train-summary.json"))
    assert s["loraRank"] == 4 and s["trainableParams"] < 60000
    run("model/evaluate.py", "--checkpoint", str(tmp_path / "ck" / s["checkpoints"][-1]), "--out",
        str(tmp_path / "s.json"), "--limit", "12")


def test_prepare_data_is_deterministic(tmp_path):
    for d in ("a", "b"):
        run("model/prepare_data.py", "--recipe", "recipe.yaml", "--out", str(tmp_path / d), "--size", "tiny", "--seed",
            "9")
    assert (tmp_path / "a" / "train.csv").read_bytes() == (tmp_path / "b" / "train.csv").read_bytes()
