"""The generator, the splits and prompt parsing (harness/)."""
import collections
import csv
import re

import pytest

from harness import generator as G
from harness.hidden_split import build as build_hidden
from harness.make_dev import dev_csv_text
from harness.metric import verify
from harness.parse import detect_domain, parse_prompt
from harness.splits import DEV_ROWS, HIDDEN_MIX

MIX = {f: 1.0 for f in G.FAMILIES}


def test_deterministic_per_seed():
    a = G.generate_rows(60, MIX, 11)
    b = G.generate_rows(60, MIX, 11)
    c = G.generate_rows(60, MIX, 12)
    assert a == b
    assert a != c


def test_row_depends_only_on_seed_and_index():
    # a longer split starts with... different families possibly, but the same (seed, index) -> same rng
    r1 = G.generate_puzzle("cipher", G.row_rng(5, 3))
    r2 = G.generate_puzzle("cipher", G.row_rng(5, 3))
    assert r1 == r2


def test_exact_counts_per_family():
    rows = G.generate_rows(100, {"equation": 3, "numeral": 1}, 1)
    counts = collections.Counter(r["domain"] for r in rows)
    assert counts == {"equation": 75, "numeral": 25}
    assert len({r["id"] for r in rows}) == 100


def test_kaggle_style_prompts():
    for fam in G.FAMILIES:
        p = G.generate_puzzle(fam, G.row_rng(1, 0))
        assert p["prompt"].startswith("In Alice's Wonderland, ")
        assert "secret" in p["prompt"]
        assert detect_domain(p["prompt"]) == fam


@pytest.mark.parametrize("family", G.FAMILIES)
def test_parse_recovers_examples_and_query(family):
    for i in range(20):
        p = G.generate_puzzle(family, G.row_rng(3, i))
        parsed = parse_prompt(p["prompt"])
        assert parsed.domain == family
        assert len(parsed.examples) == G.PRESETS[family]["medium"]["examples"]
        assert parsed.query and parsed.query in p["prompt"].splitlines()[-1]


def test_answers_follow_the_rules():
    assert G.roman(38) == "XXXVIII" and G.roman(94) == "XCIV" and G.roman(100) == "C" and G.roman(49) == "XLIX"
    for i in range(30):
        g = G.generate_puzzle("gravity", G.row_rng(4, i))
        t = float(re.search(r"for t = ([\d.]+)s", g["prompt"]).group(1))
        assert verify(g["answer"], f"{0.5 * g['meta']['g'] * t * t:.4f}")
        u = G.generate_puzzle("unit_conversion", G.row_rng(4, i))
        x = float(re.search(r"measurement: ([\d.]+)", u["prompt"]).group(1))
        assert verify(u["answer"], str(x * u["meta"]["factor"]))
        b = G.generate_puzzle("bit_manipulation", G.row_rng(4, i))
        assert re.fullmatch(r"[01]{8}", b["answer"])
        c = G.generate_puzzle("cipher", G.row_rng(4, i))
        assert len(c["answer"].split()) == 3
        n = G.generate_puzzle("numeral", G.row_rng(4, i))
        assert re.fullmatch(r"[IVXLC]+", n["answer"])


def test_bit_ops():
    rng = G.row_rng(0, 0)
    assert G._bit_op("not", rng)(0b10010111) == 0b01101000
    assert G._bit_op("reverse", rng)(0b10010111) == 0b11101001
    assert G._bit_op("swap_nibbles", rng)(0b10010111) == 0b01111001
    assert G._bit_op("majority", rng)(0b00010000) == 0


def test_equation_variants():
    knobs = G.knobs_for("equation", "hard")
    seen = collections.Counter()
    for i in range(200):
        p = G.GENERATORS["equation"](G.row_rng(9, i), knobs)
        seen[p["meta"]["variant"]] += 1
        lines = p["prompt"].splitlines()
        ex_ops = {re.match(r"^\S{2}(\S)\S{2} = ", l).group(1) for l in lines if " = " in l}
        q_op = lines[-1].split(": ")[1][2]
        if p["meta"]["variant"] == "unseen":
            assert q_op not in ex_ops
        else:
            assert q_op in ex_ops
    assert set(seen) == {"numeric", "symbolic", "unseen"}


def test_difficulty_knobs_override_and_validate():
    k = G.knobs_for("numeral", "medium", {"max_value": 20})
    assert k["max_value"] == 20
    with pytest.raises(ValueError):
        G.knobs_for("numeral", "medium", {"nope": 1})
    with pytest.raises(ValueError):
        G.knobs_for("numeral", "extreme")
    rows = G.generate_rows(40, {"numeral": 1}, 2, overrides={"numeral": {"max_value": 10}})
    assert all(len(r["answer"]) <= 4 for r in rows)


def test_dev_split_is_frozen_and_current():
    with open("data/dev.csv", encoding="utf-8", newline="") as f:
        text = f.read()
    assert text == dev_csv_text(), "data/dev.csv is stale: python3 -m harness.make_dev"
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert len(rows) == DEV_ROWS
    assert list(rows[0]) == ["id", "prompt", "answer"]
    assert len(text.encode()) < 1_000_000


def test_hidden_split_has_its_own_mix_and_harder_equations():
    pub, priv = build_hidden(123)
    assert len(pub) == 600 and len(priv) == 600
    both = pub + priv
    counts = collections.Counter(r["domain"] for r in both)
    for fam, w in HIDDEN_MIX.items():
        assert abs(counts[fam] / len(both) - w) < 0.01
    assert counts["equation"] < counts["bit_manipulation"] and counts["equation"] < counts["cipher"]
    eq = [r for r in both if r["domain"] == "equation"]
    symbolic = [r for r in eq if not re.search(r"result for: \d", r["prompt"])]
    assert len(symbolic) > 0.2 * len(eq)
    dev_ids = {r["id"] for r in csv.DictReader(open("data/dev.csv", encoding="utf-8"))}
    assert not dev_ids & {r["id"] for r in both}
    assert build_hidden(123) == (pub, priv) and build_hidden(124) != (pub, priv)
