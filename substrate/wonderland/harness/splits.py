"""Split definitions (frozen).  Seeds here are public; the leaderboard's secret seed never is."""
from __future__ import annotations

from harness.generator import FAMILIES

# The dev split the workers see (data/dev.csv): the same distribution as the official training pool.
DEV_SEED = 20260611
DEV_ROWS = 600
DEV_MIX = {f: 1.0 for f in FAMILIES}
DEV_DIFFICULTY = {f: "medium" for f in FAMILIES}

# The "official train.csv" (like the challenge's ~9.5k rows) that the data pipeline samples from.
POOL_SEED = 31415
POOL_ROWS = 9500
POOL_MIX = DEV_MIX
POOL_DIFFICULTY = DEV_DIFFICULTY

# The hidden leaderboard split: its own domain mix (fewer equations and numerals; more bit manipulation,
# cipher, gravity and unit conversion) and harder equations (two operators per puzzle, no house rules,
# symbolic operands, operators unseen in the examples).
HIDDEN_ROWS_PUBLIC = 600
HIDDEN_ROWS_PRIVATE = 600
HIDDEN_MIX = {
    "bit_manipulation": 0.24,
    "gravity": 0.16,
    "unit_conversion": 0.16,
    "cipher": 0.24,
    "numeral": 0.12,
    "equation": 0.08,
}
HIDDEN_DIFFICULTY = {**DEV_DIFFICULTY, "equation": "hard"}
