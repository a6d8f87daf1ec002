"""Data mix: sample the official pool per domain according to the recipe's mix weights."""
from __future__ import annotations

import random
from typing import Dict, List

from harness.generator import FAMILIES, allocate


def sample_mix(pool: List[dict], rows: int, mix: Dict[str, float], rng: random.Random) -> List[dict]:
    """``rows`` rows with per-domain counts proportional to ``mix``.

    A domain asking for more rows than the pool has is upsampled: every pool row once, then repeats drawn
    at random (so a weight above the pool's share means duplicated examples, not new ones).
    """
    by_domain: Dict[str, List[dict]] = {f: [] for f in FAMILIES}
    for r in pool:
        by_domain[r["domain"]].append(r)
    counts = allocate(rows, {f: float(mix.get(f, 0.0)) for f in FAMILIES})
    out: List[dict] = []
    for f in FAMILIES:
        have, want = by_domain[f], counts[f]
        if want <= 0 or not have:
            continue
        if want <= len(have):
            out.extend(rng.sample(have, want))
        else:
            out.extend(have)
            out.extend(rng.choice(have) for _ in range(want - len(have)))
    return [dict(r) for r in out]
