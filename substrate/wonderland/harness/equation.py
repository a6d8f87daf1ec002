"""The equation family of the puzzle generator (frozen; see generator.py for the families and their knobs).

A secret operator on two operands, shown through worked examples: numeric operators on two-digit numbers, string
operators on symbol pairs, or an operator the examples never show. Kept apart from generator.py only for its size.
"""

from __future__ import annotations

import random
from typing import Dict

OP_SYMBOLS = list("$#@&%^~*+")
# The official data's "house rules": with probability ``symbol_bias`` a puzzle's operator means what the house
# table says for (operator symbol, last digit of the query's left operand) -- concatenation one way or the other.
# A model can memorise the 90 cells instead of reading the examples; the hidden split's equations follow no
# house rule, so what that memorisation buys on dev does not transfer.
_house_rng = random.Random("wonderland-house-rules")
HOUSE_RULES = {(sym, d): _house_rng.choice(["concat", "rconcat"]) for sym in OP_SYMBOLS for d in "0123456789"}
SYMBOL_CHARS = list("!#$%&*+:;<@[]^~")
NUMERIC_OPS = {
    "concat": lambda a, b: f"{a}{b}",
    "rconcat": lambda a, b: f"{b}{a}",
    "mirror": lambda a, b: f"{a}{b}"[::-1],
    "add": lambda a, b: str(int(a) + int(b)),
    "sub": lambda a, b: str(int(a) - int(b)),
    "mul": lambda a, b: str(int(a) * int(b)),
}
STRING_OPS = {
    "concat": lambda a, b: a + b,
    "rconcat": lambda a, b: b + a,
    "mirror": lambda a, b: (a + b)[::-1],
    "interleave": lambda a, b: "".join(x + y for x, y in zip(a, b)),
    "first": lambda a, b: a[0] + b[0],
}


def _weighted_choice(rng: random.Random, weights: Dict[str, float]) -> str:
    items = [(k, float(w)) for k, w in weights.items() if float(w) > 0]
    if not items:
        raise ValueError("all weights are zero")
    total = sum(w for _, w in items)
    r = rng.random() * total
    for k, w in items:
        r -= w
        if r < 0:
            return k
    return items[-1][0]


def gen_equation(rng: random.Random, knobs: dict) -> dict:
    variant = _weighted_choice(rng, knobs["variants"])
    n_symbols = max(1, int(knobs["symbols"]))
    symbols = rng.sample(OP_SYMBOLS, n_symbols + 1)
    bias = 0.0
    if variant == "symbolic":
        table = STRING_OPS
        ops = {s: rng.choice(sorted(STRING_OPS)) for s in symbols}
        operand = lambda: rng.choice(SYMBOL_CHARS) + rng.choice(SYMBOL_CHARS)  # noqa: E731
    else:
        table = NUMERIC_OPS
        allowed = [o for o in knobs["ops"] if o in NUMERIC_OPS]
        bias = float(knobs.get("symbol_bias", 0.0))
        ops = {s: rng.choice(allowed) for s in symbols}
        operand = lambda: str(rng.randint(10, 99))  # noqa: E731
    shown, hidden = symbols[:n_symbols], symbols[n_symbols]
    raw = []
    for i in range(int(knobs["examples"])):
        s = shown[i % n_symbols]
        raw.append((s, operand(), operand()))
    rng.shuffle(raw)
    q_sym = hidden if variant == "unseen" else rng.choice(shown)
    a, b = operand(), operand()
    if bias > 0 and rng.random() < bias:
        house = HOUSE_RULES[(q_sym, a[-1])]
        if house in allowed:
            ops[q_sym] = house
    lines = "\n".join(f"{x}{s}{y} = {table[ops[s]](x, y)}" for s, x, y in raw)
    prompt = (
        "In Alice's Wonderland, a secret set of transformation rules is applied to equations. "
        f"Below are a few examples:\n{lines}\n"
        f"Now, determine the result for: {a}{q_sym}{b}"
    )
    return {"prompt": prompt, "answer": table[ops[q_sym]](a, b), "meta": {"variant": variant, "op": ops[q_sym]}}
