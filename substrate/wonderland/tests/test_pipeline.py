"""The shipped data pipeline (pipeline/, editable by workers; these tests pin the version shipped)."""
import collections
import random

import yaml

from harness.pool import official_pool
from pipeline.augment import apply_augmenters
from pipeline.build import build
from pipeline.filters import apply_filters
from pipeline.mix import sample_mix

RECIPE = yaml.safe_load(open("recipe.yaml"))


def test_pool_is_the_official_train_csv_analogue():
    pool = official_pool()
    assert len(pool) == 9500
    counts = collections.Counter(r["domain"] for r in pool)
    assert min(counts.values()) >= 1583 and max(counts.values()) <= 1584


def test_mix_weights_and_upsampling():
    pool = official_pool()
    rows = sample_mix(pool, 6000, {"equation": 3, "numeral": 1}, random.Random(0))
    counts = collections.Counter(r["domain"] for r in rows)
    assert counts == {"equation": 4500, "numeral": 1500}
    eq = [r["id"] for r in rows if r["domain"] == "equation"]
    assert len(set(eq)) == sum(1 for r in pool if r["domain"] == "equation")  # every pool row once, then repeats


def test_synthetic_augment_filter_and_determinism():
    recipe = yaml.safe_load(open("recipe.yaml"))
    recipe["data"]["rows"] = 600
    recipe["data"]["synthetic"] = {"count": 200, "mix": {"equation": 1.0}, "difficulty": {"equation": "hard"},
        "knobs": {}}
    recipe["data"]["augment"] = {"shuffle_examples": 0.5, "drop_examples": 0.0}
    recipe["data"]["filters"] = {"dedupe": True, "drop_domains": ["numeral"], "max_answer_chars": 30}
    rows, summary = build(recipe, 3)
    assert rows == build(recipe, 3)[0]
    src = collections.Counter(r["source"] for r in rows)
    assert src["synthetic"] == 200 and src["augment:shuffle_examples"] > 100
    assert not any(r["domain"] == "numeral" for r in rows)
    assert len({(r["prompt"], r["answer"]) for r in rows}) == len(rows)
    assert summary["stages"][0] == "mix"


def test_augmenters_keep_the_answer_and_the_examples():
    row = official_pool()[0]
    out = apply_augmenters([row], {"shuffle_examples": 1.0, "drop_examples": 1.0}, random.Random(1))
    assert len(out) == 3
    for r in out[1:]:
        assert r["answer"] == row["answer"]
        assert r["prompt"].splitlines()[-1] == row["prompt"].splitlines()[-1]
        assert set(r["prompt"].splitlines()) <= set(row["prompt"].splitlines())


def test_filters_validate_names():
    try:
        apply_filters([], {"nope": 1})
    except SystemExit as e:
        assert "unknown filter" in str(e)
    else:
        raise AssertionError("expected an error")
