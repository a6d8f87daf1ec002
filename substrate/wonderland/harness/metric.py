"""The challenge metric (frozen): answer extraction and answer verification.

Extraction, in order:
1. the content of the last non-empty ``\\boxed{...}`` (braces nested inside are kept balanced);
2. else the text after "final answer" on the last line that has it (``Final answer: X``,
   ``The final answer is X``);
3. else the last number in the text;
4. else the last non-empty line.
(Empty boxes are skipped; when every box is empty the fallbacks apply to the whole text.)

Verification of a prediction against the stored answer (both trimmed):
- a stored answer made only of 0/1 is a binary string and must match exactly (``0101`` != ``101``);
- else, when both parse as numbers, ``math.isclose(rel_tol=1e-2, abs_tol=1e-5)``;
- else a case-insensitive string comparison.
"""
from __future__ import annotations

import math
import re
from typing import Dict, Iterable, List, Optional

REL_TOL = 1e-2
ABS_TOL = 1e-5

_BOXED = "\\boxed{"
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FINAL_RE = re.compile(r"final\s+answer\s*(?:is)?\s*[:=]?\s*(.*)$", re.IGNORECASE)
_BINARY_RE = re.compile(r"^[01]+$")


def boxed_contents(text: str) -> List[str]:
    """Contents of every *closed* ``\\boxed{...}`` in order, nested braces kept (``\\boxed{a{b}c}`` -> ``a{b}c``)."""
    out: List[str] = []
    start = 0
    while True:
        i = text.find(_BOXED, start)
        if i < 0:
            return out
        j = i + len(_BOXED)
        depth = 1
        k = j
        while k < len(text) and depth > 0:
            ch = text[k]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            k += 1
        if depth == 0:
            out.append(text[j : k - 1])
            start = k
        else:  # unclosed box: ignore it, keep looking after its opening
            start = j


def extract_answer(text: Optional[str]) -> str:
    if text is None:
        return ""
    text = str(text)
    boxes = [b.strip() for b in boxed_contents(text)]
    nonempty = [b for b in boxes if b]
    if nonempty:
        return nonempty[-1]
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for line in reversed(lines):
        m = _FINAL_RE.search(line)
        if m:
            ans = m.group(1).strip().rstrip(".").strip()
            if ans:
                return ans
    numbers = _NUMBER_RE.findall(text)
    if numbers:
        return numbers[-1]
    return lines[-1] if lines else ""


def _to_float(s: str) -> Optional[float]:
    try:
        v = float(s.replace(",", "")) if re.fullmatch(r"-?[\d,]*\.?\d+(?:[eE][-+]?\d+)?", s.strip()) else None
    except ValueError:
        return None
    if v is None or math.isnan(v) or math.isinf(v):
        return None
    return v


def verify(stored: str, predicted: str) -> bool:
    stored = str(stored).strip()
    predicted = str(predicted).strip()
    if _BINARY_RE.match(stored):
        return predicted == stored
    a, b = _to_float(stored), _to_float(predicted)
    if a is not None and b is not None:
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return predicted.lower() == stored.lower()


def score_output(stored: str, output: str) -> bool:
    """Full metric path for one row: extract the answer from raw model output, then verify it."""
    return verify(stored, extract_answer(output))


def aggregate(results: Iterable[tuple], domains: List[str]) -> Dict:
    """results: (domain, correct) pairs -> ``{overall, n, domains: {d: {score, n}}}`` (every listed domain present)."""
    per: Dict[str, List[int]] = {d: [0, 0] for d in domains}
    total = [0, 0]
    for domain, ok in results:
        per.setdefault(domain, [0, 0])
        per[domain][0] += int(bool(ok))
        per[domain][1] += 1
        total[0] += int(bool(ok))
        total[1] += 1
    return {
        "overall": round(total[0] / total[1], 6) if total[1] else 0.0,
        "n": total[1],
        "domains": {d: {"score": round(c / n, 6) if n else 0.0, "n": n} for d, (c, n) in per.items()},
    }
