"""The data-construction program: recipe -> training rows.  Edit freely (this and recipe.yaml).

Order: sample the official pool by the mix -> add synthetic rows -> augment -> filter -> shuffle.
Returns (rows, summary); the frozen prepare-data entrypoint writes train.csv and data-summary.json.
"""
from __future__ import annotations

import random
from typing import List, Tuple

from harness.pool import official_pool
from pipeline.augment import apply_augmenters
from pipeline.filters import apply_filters
from pipeline.mix import sample_mix
from pipeline.synthetic import synthesize


def build(recipe: dict, seed: int) -> Tuple[List[dict], dict]:
    data = recipe.get("data") or {}
    rng = random.Random(f"pipeline:{seed}")
    rows = sample_mix(official_pool(), int(data.get("rows", 6000)), data.get("mix") or {}, rng)
    for r in rows:
        r["source"] = "pool"
    rows += synthesize(data.get("synthetic") or {}, seed)
    rows = apply_augmenters(rows, data.get("augment") or {}, rng)
    rows = apply_filters(rows, data.get("filters") or {})
    rng.shuffle(rows)
    summary = {"stages": ["mix", "synthetic", "augment", "filter", "shuffle"]}
    return rows, summary
