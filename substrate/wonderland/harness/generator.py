"""Puzzle generator for the six Wonderland families (frozen).

Every puzzle is a Kaggle-style row ``id,prompt,answer``: a prompt "In Alice's Wonderland, a secret ...
rule ..." with worked examples and one query, and the answer to the query.  Generation is deterministic:
row ``i`` of a split depends only on ``(seed, i)`` (and the knobs), never on the rows before it.

Difficulty is controlled per family by *knobs* (see ``PRESETS``); ``easy``/``medium``/``hard`` are named
presets and any knob can be overridden.  The official training pool and the dev split use ``medium``.

Families and their hidden rules
- bit_manipulation: 8-bit strings under one secret op (shift/rotate/xor/and/or/not/majority/reverse/
  nibble swap), optionally a composition of two ops (knob ``compose``).
- gravity: ``d = 0.5*g*t^2`` with a secret g; answer is the distance for a new t, two decimals.
- unit_conversion: a secret factor; ``10.08 m becomes 6.69``; answer is the converted query, two decimals.
- cipher: sentences over a small vocabulary, encrypted letter-wise with a secret key (a Caesar shift by
  default, a full substitution in ``hard``); answer is the decrypted query (``cat imagines book``).
- numeral: Roman numerals 1..max_value (``38 -> XXXVIII``).
- equation: a secret operator on two numbers (``96$54 = 5184``). Variants: ``numeric`` (the query's
  operator appears in the examples), ``symbolic`` (operands are symbol strings, string operators) and
  ``unseen`` (the query's operator never appears in the examples: it can only be guessed).  In the
  official data (``medium``) a symbol usually keeps its usual meaning (knob ``symbol_bias``); the hidden
  split's ``hard`` equations have no such regularity.
"""
from __future__ import annotations

import copy
import hashlib
import random
from typing import Dict, Iterable, List, Optional

FAMILIES = ["bit_manipulation", "gravity", "unit_conversion", "cipher", "numeral", "equation"]

# --------------------------------------------------------------------------------------------- knobs
PRESETS: Dict[str, Dict[str, dict]] = {
    "bit_manipulation": {
        "easy": {"examples": 8, "ops": ["not", "reverse", "swap_nibbles", "rotl", "rotr"], "compose": 0.0},
        "medium": {
            "examples": 8,
            "ops": ["not", "reverse", "swap_nibbles", "rotl", "rotr", "shl", "shr", "xor", "and", "or", "majority"],
            "compose": 0.0,
        },
        "hard": {
            "examples": 8,
            "ops": ["not", "reverse", "swap_nibbles", "rotl", "rotr", "shl", "shr", "xor", "and", "or", "majority"],
            "compose": 0.6,
        },
    },
    "gravity": {
        # g is drawn from `g_choices` evenly spaced values in [g_min, g_max] (0 = continuous);
        # t is drawn from [t_min, t_max] with `t_decimals` decimals.
        "easy": {"examples": 4, "g_min": 4.0, "g_max": 20.0, "g_choices": 3, "t_min": 1.0, "t_max": 4.0,
            "t_decimals": 0},
        "medium": {"examples": 4, "g_min": 4.0, "g_max": 20.0, "g_choices": 5, "t_min": 1.0, "t_max": 5.0,
            "t_decimals": 1},
        "hard": {"examples": 4, "g_min": 4.0, "g_max": 20.0, "g_choices": 0, "t_min": 1.0, "t_max": 5.0,
            "t_decimals": 2},
    },
    "unit_conversion": {
        "easy": {"examples": 4, "factors": [0.5, 2.0, 10.0], "x_min": 1.0, "x_max": 20.0, "x_decimals": 0},
        "medium": {"examples": 4, "factors": [0.5, 2.0, 3.0, 10.0, 0.1], "x_min": 1.0, "x_max": 50.0, "x_decimals": 1},
        "hard": {"examples": 4, "factors": [], "factor_min": 0.3, "factor_max": 3.0, "x_min": 1.0, "x_max": 50.0,
            "x_decimals": 2},
    },
    "cipher": {
        "easy": {"examples": 3, "key": "shift", "max_shift": 25, "vocab": 6},
        "medium": {"examples": 3, "key": "shift", "max_shift": 25, "vocab": 12},
        "hard": {"examples": 3, "key": "substitution", "max_shift": 25, "vocab": 12},
    },
    "numeral": {
        "easy": {"examples": 4, "max_value": 40},
        "medium": {"examples": 4, "max_value": 100},
        "hard": {"examples": 4, "max_value": 100},
    },
    "equation": {
        # symbol_bias: probability that the query's operator follows the house rules (HOUSE_RULES) instead of a
        # random draw -- a regularity of the official data a model can memorise instead of reading the examples
        "easy": {"examples": 4, "ops": ["concat", "rconcat"], "symbols": 1, "symbol_bias": 0.0,
                 "variants": {"numeric": 1.0, "symbolic": 0.0, "unseen": 0.0}},
        "medium": {"examples": 4, "ops": ["concat", "rconcat", "mirror", "add", "sub", "mul"], "symbols": 1,
                   "symbol_bias": 0.75, "variants": {"numeric": 1.0, "symbolic": 0.0, "unseen": 0.0}},
        "hard": {"examples": 4, "ops": ["concat", "rconcat", "mirror", "add", "sub", "mul"], "symbols": 2,
                 "symbol_bias": 0.0, "variants": {"numeric": 0.3, "symbolic": 0.35, "unseen": 0.35}},
    },
}


def knobs_for(family: str, difficulty: str = "medium", overrides: Optional[dict] = None) -> dict:
    if family not in PRESETS:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    if difficulty not in PRESETS[family]:
        raise ValueError(f"unknown difficulty {difficulty!r} for {family}; expected easy|medium|hard")
    knobs = copy.deepcopy(PRESETS[family][difficulty])
    for key, value in (overrides or {}).items():
        if key not in knobs and key not in ("factor_min", "factor_max"):
            raise ValueError(f"unknown knob {family}.{key}; known: {sorted(knobs)}")
        knobs[key] = copy.deepcopy(value)
    return knobs


# ------------------------------------------------------------------------------------------ helpers
def _fmt2(x: float) -> str:
    return f"{x:.2f}"


def _fmt_num(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}" if decimals > 0 else str(int(round(x)))


def _draw_value(rng: random.Random, lo: float, hi: float, decimals: int) -> float:
    scale = 10 ** decimals
    return rng.randint(int(round(lo * scale)), int(round(hi * scale))) / scale


def _distinct(rng: random.Random, draw, count: int, avoid: Iterable = ()) -> list:
    seen = set(avoid)
    out = []
    for _ in range(count * 50):
        v = draw()
        if v not in seen:
            seen.add(v)
            out.append(v)
            if len(out) == count:
                break
    while len(out) < count:  # tiny value spaces: allow repeats
        out.append(draw())
    return out


# ------------------------------------------------------------------------------- bit manipulation
def _bits(x: int) -> str:
    return format(x & 0xFF, "08b")


def _bit_op(name: str, rng: random.Random):
    k = rng.randint(1, 3)
    mask = rng.randint(1, 254)
    if name == "not":
        return lambda x: ~x & 0xFF
    if name == "reverse":
        return lambda x: int(_bits(x)[::-1], 2)
    if name == "swap_nibbles":
        return lambda x: ((x << 4) | (x >> 4)) & 0xFF
    if name == "rotl":
        return lambda x: ((x << k) | (x >> (8 - k))) & 0xFF
    if name == "rotr":
        return lambda x: ((x >> k) | (x << (8 - k))) & 0xFF
    if name == "shl":
        return lambda x: (x << k) & 0xFF
    if name == "shr":
        return lambda x: x >> k
    if name == "xor":
        return lambda x: x ^ mask
    if name == "and":
        return lambda x: x & mask
    if name == "or":
        return lambda x: x | mask
    if name == "majority":  # each bit becomes the majority of itself and its two (cyclic) neighbours
        def maj(x: int) -> int:
            s = _bits(x)
            return int("".join("1" if (s[i - 1] + s[i] + s[(i + 1) % 8]).count("1") >= 2 else "0" for i in range(8)), 2)
        return maj
    raise ValueError(f"unknown bit op {name!r}")


def gen_bit_manipulation(rng: random.Random, knobs: dict) -> dict:
    ops = list(knobs["ops"])
    names = [rng.choice(ops)]
    if rng.random() < float(knobs.get("compose", 0.0)):
        names.append(rng.choice(ops))
    fns = [_bit_op(n, rng) for n in names]

    def f(x: int) -> int:
        for fn in fns:
            x = fn(x)
        return x

    xs = _distinct(rng, lambda: rng.randint(0, 255), int(knobs["examples"]) + 1)
    examples = [(_bits(x), _bits(f(x))) for x in xs[:-1]]
    query = xs[-1]
    lines = "\n".join(f"{a} -> {b}" for a, b in examples)
    prompt = (
        "In Alice's Wonderland, a secret bit manipulation rule transforms 8-bit binary numbers. "
        "The transformation may involve bit shifts, rotations, XOR, AND, OR, NOT, majority and similar operations.\n\n"
        f"Here are some examples of input -> output:\n{lines}\n\n"
        f"Now, determine the output for: {_bits(query)}"
    )
    return {"prompt": prompt, "answer": _bits(f(query)), "meta": {"ops": names}}


# ----------------------------------------------------------------------------------------- gravity
def gen_gravity(rng: random.Random, knobs: dict) -> dict:
    lo, hi, choices = float(knobs["g_min"]), float(knobs["g_max"]), int(knobs["g_choices"])
    if choices > 0:
        grid = [round(lo + (hi - lo) * i / max(1, choices - 1), 2) for i in range(choices)]
        g = rng.choice(grid)
    else:
        g = round(rng.uniform(lo, hi), 2)
    dec = int(knobs["t_decimals"])
    ts = _distinct(rng, lambda: _draw_value(rng, knobs["t_min"], knobs["t_max"], dec), int(knobs["examples"]) + 1)
    lines = "\n".join(f"For t = {_fmt_num(t, dec)}s, distance = {_fmt2(0.5 * g * t * t)} m" for t in ts[:-1])
    t = ts[-1]
    prompt = (
        "In Alice's Wonderland, the gravitational constant has been secretly changed. "
        f"Here are some example observations:\n{lines}\n"
        f"Now, determine the falling distance for t = {_fmt_num(t, dec)}s given d = 0.5*g*t^2."
    )
    return {"prompt": prompt, "answer": _fmt2(0.5 * g * t * t), "meta": {"g": g}}


# ------------------------------------------------------------------------------------ unit conversion
UNITS = ["m", "kg", "s", "L", "cm", "g"]


def gen_unit_conversion(rng: random.Random, knobs: dict) -> dict:
    factors = knobs.get("factors") or []
    if factors:
        factor = float(rng.choice(factors))
    else:
        factor = round(rng.uniform(float(knobs.get("factor_min", 0.3)), float(knobs.get("factor_max", 3.0))), 4)
    unit = rng.choice(UNITS)
    dec = int(knobs["x_decimals"])
    xs = _distinct(rng, lambda: _draw_value(rng, knobs["x_min"], knobs["x_max"], dec), int(knobs["examples"]) + 1)
    lines = "\n".join(f"{_fmt_num(x, dec)} {unit} becomes {_fmt2(x * factor)}" for x in xs[:-1])
    x = xs[-1]
    prompt = (
        "In Alice's Wonderland, a secret unit conversion is applied to measurements. For example:\n"
        f"{lines}\n"
        f"Now, convert the following measurement: {_fmt_num(x, dec)} {unit}"
    )
    return {"prompt": prompt, "answer": _fmt2(x * factor), "meta": {"factor": factor}}


# ------------------------------------------------------------------------------------------- cipher
SUBJECTS = ["alice", "cat", "queen", "king", "hatter", "rabbit", "turtle", "mouse", "knight", "dragon", "bird",
    "wizard"]
VERBS = ["reads", "sees", "imagines", "draws", "chases", "finds", "follows", "creates", "explores", "watches", "opens",
    "paints"]
OBJECTS = ["book", "key", "door", "garden", "cake", "map", "potion", "castle", "mirror", "tea", "clock", "forest"]
ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _cipher_key(rng: random.Random, knobs: dict) -> Dict[str, str]:
    if knobs["key"] == "shift":
        k = rng.randint(1, int(knobs["max_shift"]))
        return {c: ALPHABET[(i + k) % 26] for i, c in enumerate(ALPHABET)}
    if knobs["key"] == "substitution":
        perm = list(ALPHABET)
        rng.shuffle(perm)
        return dict(zip(ALPHABET, perm))
    raise ValueError(f"unknown cipher key {knobs['key']!r}")


def gen_cipher(rng: random.Random, knobs: dict) -> dict:
    v = max(1, min(int(knobs["vocab"]), len(SUBJECTS)))
    key = _cipher_key(rng, knobs)
    enc = lambda s: "".join(key.get(c, c) for c in s)  # noqa: E731

    def sentence() -> str:
        return f"{rng.choice(SUBJECTS[:v])} {rng.choice(VERBS[:v])} {rng.choice(OBJECTS[:v])}"

    plains = _distinct(rng, sentence, int(knobs["examples"]) + 1)
    lines = "\n".join(f"{enc(p)} -> {p}" for p in plains[:-1])
    query = plains[-1]
    prompt = (
        "In Alice's Wonderland, secret encryption rules are used on text. Here are some examples:\n"
        f"{lines}\n"
        f"Now, decrypt the following text: {enc(query)}"
    )
    return {"prompt": prompt, "answer": query, "meta": {"key": knobs["key"]}}


# ------------------------------------------------------------------------------------------ numeral
_ROMAN = [(100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def roman(n: int) -> str:
    out = []
    for value, sym in _ROMAN:
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def gen_numeral(rng: random.Random, knobs: dict) -> dict:
    ns = _distinct(rng, lambda: rng.randint(1, int(knobs["max_value"])), int(knobs["examples"]) + 1)
    lines = "\n".join(f"{n} -> {roman(n)}" for n in ns[:-1])
    n = ns[-1]
    prompt = (
        "In Alice's Wonderland, numbers are secretly converted into a different numeral system. "
        f"Some examples are given below:\n{lines}\n"
        f"Now, write the number {n} in the Wonderland numeral system."
    )
    return {"prompt": prompt, "answer": roman(n), "meta": {}}


# ----------------------------------------------------------------------------------------- equation
from harness.equation import HOUSE_RULES, OP_SYMBOLS, gen_equation  # noqa: E402,F401  (HOUSE_RULES: see PRESETS)


GENERATORS = {
    "bit_manipulation": gen_bit_manipulation,
    "gravity": gen_gravity,
    "unit_conversion": gen_unit_conversion,
    "cipher": gen_cipher,
    "numeral": gen_numeral,
    "equation": gen_equation,
}


# ------------------------------------------------------------------------------------------- splits
def row_rng(seed: int, index: int, salt: str = "") -> random.Random:
    return random.Random(f"wonderland:{salt}:{seed}:{index}")


def row_id(seed: int, index: int, salt: str = "") -> str:
    return hashlib.sha1(f"wonderland-id:{salt}:{seed}:{index}".encode()).hexdigest()[:8]


def allocate(n: int, mix: Dict[str, float]) -> Dict[str, int]:
    """Exact per-family counts for n rows under mix weights (largest remainder, ties by family order)."""
    weights = {f: max(0.0, float(mix.get(f, 0.0))) for f in FAMILIES}
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("mix weights sum to zero")
    raw = {f: n * w / total for f, w in weights.items()}
    counts = {f: int(raw[f]) for f in FAMILIES}
    left = n - sum(counts.values())
    for f in sorted(FAMILIES, key=lambda f: (-(raw[f] - counts[f]), FAMILIES.index(f)))[:left]:
        counts[f] += 1
    return counts


def generate_puzzle(family: str, rng: random.Random, difficulty: str = "medium",
    overrides: Optional[dict] = None) -> dict:
    knobs = knobs_for(family, difficulty, overrides)
    out = GENERATORS[family](rng, knobs)
    out["domain"] = family
    return out


def generate_rows(
    n: int,
    mix: Dict[str, float],
    seed: int,
    difficulty: Optional[Dict[str, str]] = None,
    overrides: Optional[Dict[str, dict]] = None,
    salt: str = "",
) -> List[dict]:
    """n rows ``{id, prompt, answer, domain}`` with exact per-family counts, shuffled deterministically."""
    counts = allocate(n, mix)
    families: List[str] = [f for f in FAMILIES for _ in range(counts[f])]
    random.Random(f"wonderland-order:{salt}:{seed}").shuffle(families)
    rows = []
    for i, family in enumerate(families):
        level = (difficulty or {}).get(family, "medium")
        p = generate_puzzle(family, row_rng(seed, i, salt), level, (overrides or {}).get(family))
        rows.append({"id": row_id(seed, i, salt), "prompt": p["prompt"], "answer": p["answer"], "domain": family})
    return rows
