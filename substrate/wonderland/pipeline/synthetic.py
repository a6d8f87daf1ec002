"""Synthetic data: freshly generated puzzles (new rows, not pool duplicates) from the frozen generator."""
from __future__ import annotations

from typing import List

from harness.generator import FAMILIES, generate_rows


def synthesize(settings: dict, seed: int) -> List[dict]:
    """``count`` rows over ``mix`` at per-domain ``difficulty`` (easy|medium|hard) with knob ``overrides``."""
    count = int((settings or {}).get("count", 0) or 0)
    if count <= 0:
        return []
    mix = settings.get("mix") or {f: 1.0 for f in FAMILIES}
    rows = generate_rows(
        count,
        mix,
        seed,
        difficulty=settings.get("difficulty") or {},
        overrides=settings.get("knobs") or {},
        salt="synthetic",
    )
    for r in rows:
        r["source"] = "synthetic"
    return rows
