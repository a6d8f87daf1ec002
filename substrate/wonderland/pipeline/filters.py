"""Filters: drop rows from the training set.  Each takes (rows, setting) and returns the rows kept."""
from __future__ import annotations

from typing import Callable, Dict, List


def dedupe(rows: List[dict], on: bool) -> List[dict]:
    """Drop rows whose (prompt, answer) was already seen (keeps upsampled duplicates out when on)."""
    if not on:
        return rows
    seen = set()
    out = []
    for r in rows:
        key = (r["prompt"], r["answer"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def max_answer_chars(rows: List[dict], limit) -> List[dict]:
    """Drop rows whose answer is longer than ``limit`` characters (the model answers at most 30)."""
    if not limit:
        return rows
    return [r for r in rows if len(r["answer"]) <= int(limit)]


def drop_domains(rows: List[dict], domains) -> List[dict]:
    """Drop every row of the listed domains."""
    if not domains:
        return rows
    drop = set(domains)
    return [r for r in rows if r["domain"] not in drop]


FILTERS: Dict[str, Callable] = {
    "dedupe": dedupe,
    "max_answer_chars": max_answer_chars,
    "drop_domains": drop_domains,
}


def apply_filters(rows: List[dict], settings: dict) -> List[dict]:
    for name, value in (settings or {}).items():
        if name not in FILTERS:
            raise SystemExit(f"unknown filter {name!r}; known: {sorted(FILTERS)}")
        rows = FILTERS[name](rows, value)
    return rows
