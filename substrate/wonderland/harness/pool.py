"""The official training pool (frozen): the analogue of the challenge's train.csv (~9.5k rows).

Regenerated deterministically from a public seed (half a second), so it never needs to be shipped.
Same distribution as the dev split, different rows.
"""
from __future__ import annotations

from functools import lru_cache
from typing import List

from harness.generator import generate_rows
from harness.splits import POOL_DIFFICULTY, POOL_MIX, POOL_ROWS, POOL_SEED


@lru_cache(maxsize=1)
def _pool() -> tuple:
    return tuple(generate_rows(POOL_ROWS, POOL_MIX, POOL_SEED, POOL_DIFFICULTY, salt="pool"))


def official_pool() -> List[dict]:
    """Rows ``{id, prompt, answer, domain}`` (fresh dict copies, safe to modify)."""
    return [dict(r) for r in _pool()]
