"""Augmenters: add modified copies of rows.  Each takes (row, rng) and returns a new row or None.

The model reads a prompt's worked examples in order until its input budget is full, so changing which
examples come first changes what it sees (a genuine augmentation, not a duplicate).
"""
from __future__ import annotations

import random
from typing import Callable, Dict, List, Optional


def _split_examples(prompt: str):
    """(head lines, example lines, tail lines) of a prompt: examples are the lines between the header
    and the final "Now, ..." line that look like worked examples."""
    lines = prompt.split("\n")
    idx = [
        i
        for i, l in enumerate(lines)
        if (" -> " in l or " = " in l or "becomes" in l or l.startswith("For t =")) and not l.startswith("In Alice")
    ]
    if not idx:
        return None
    return lines[: idx[0]], lines[idx[0] : idx[-1] + 1], lines[idx[-1] + 1 :]


def shuffle_examples(row: dict, rng: random.Random) -> Optional[dict]:
    parts = _split_examples(row["prompt"])
    if not parts or len(parts[1]) < 2:
        return None
    head, ex, tail = parts
    ex = ex[:]
    rng.shuffle(ex)
    return {**row, "prompt": "\n".join(head + ex + tail)}


def drop_examples(row: dict, rng: random.Random) -> Optional[dict]:
    """Keep a random non-empty prefix of the examples (teaches the model to use fewer of them)."""
    parts = _split_examples(row["prompt"])
    if not parts or len(parts[1]) < 2:
        return None
    head, ex, tail = parts
    return {**row, "prompt": "\n".join(head + ex[: rng.randint(1, len(ex) - 1)] + tail)}


AUGMENTERS: Dict[str, Callable] = {"shuffle_examples": shuffle_examples, "drop_examples": drop_examples}


def apply_augmenters(rows: List[dict], settings: dict, rng: random.Random) -> List[dict]:
    """For each augmenter with probability p, add an augmented copy of each row with probability p."""
    extra: List[dict] = []
    for name, p in (settings or {}).items():
        if name not in AUGMENTERS:
            raise SystemExit(f"unknown augmenter {name!r}; known: {sorted(AUGMENTERS)}")
        p = float(p or 0.0)
        if p <= 0:
            continue
        for r in rows:
            if rng.random() < p:
                new = AUGMENTERS[name](r, rng)
                if new is not None:
                    extra.append({**new, "source": f"augment:{name}"})
    return rows + extra
