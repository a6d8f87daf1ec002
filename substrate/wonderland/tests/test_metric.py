"""Edge cases of the challenge metric (harness/metric.py)."""
import pytest

from harness.metric import aggregate, boxed_contents, extract_answer, score_output, verify


# ----------------------------------------------------------------------------------- extraction
def test_boxed_simple():
    assert extract_answer("so the answer is \\boxed{XXXVIII}") == "XXXVIII"


def test_multiple_boxed_takes_last():
    assert extract_answer("\\boxed{12} no wait \\boxed{13}") == "13"


def test_nested_braces_kept():
    assert boxed_contents("x \\boxed{a{b}c} y") == ["a{b}c"]
    assert extract_answer("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"


def test_empty_boxed_is_skipped_for_earlier_nonempty():
    assert extract_answer("\\boxed{42} then \\boxed{}") == "42"
    assert extract_answer("\\boxed{42} then \\boxed{   }") == "42"


def test_only_empty_boxed_falls_back():
    # no non-empty box: fallbacks apply to the whole text (last number here)
    assert extract_answer("I think 17.\n\\boxed{}") == "17"
    # nothing numeric: last non-empty line
    assert extract_answer("\\boxed{}") == "\\boxed{}"


def test_unclosed_boxed_is_ignored():
    assert extract_answer("\\boxed{7} and \\boxed{8") == "7"


def test_no_boxed_final_answer_line():
    text = "Let me think.\nThe numbers are 3 and 4.\nFinal answer: cat imagines book\n"
    assert extract_answer(text) == "cat imagines book"
    assert extract_answer("blah 12\nThe final answer is 10010111.") == "10010111"


def test_no_boxed_last_number():
    assert extract_answer("distance is about 154.62 m, t was 3") == "3"
    assert extract_answer("it is -42 I think") == "-42"


def test_no_boxed_last_line():
    assert extract_answer("first line\n\n  cat sees key  \n\n") == "cat sees key"


def test_empty_and_none():
    assert extract_answer("") == ""
    assert extract_answer(None) == ""


# ---------------------------------------------------------------------------------- verification
def test_binary_exact():
    assert verify("0101", "0101")
    assert not verify("0101", "101")
    assert not verify("101", "0101")
    assert not verify("10010111", "10010110")


def test_binary_looking_numbers_are_binary():
    # a stored answer of only 0/1 digits is a binary string, even when it reads as a number
    assert not verify("100", "101")
    assert not verify("10", "10.0")
    assert verify("10", "10")


def test_binary_not_numeric_tolerance():
    # 1000000 vs 1000001 would pass a 1% tolerance, but binary strings compare exactly
    assert not verify("1000000", "1000001")


@pytest.mark.parametrize(
    "stored,pred,ok",
    [
        ("200", "201.99", True),  # inside rel_tol=1e-2
        ("200", "202", True),  # 2 <= 0.01 * max(200, 202): inside
        ("200", "202.03", False),  # 2.03 > 0.01 * 202.03: outside
        ("200", "198", True),  # 2 <= 0.01 * 200: inside (boundary)
        ("200", "197.99", False),  # 2.01 > 2.0: outside
        ("154.62", "155.0", True),
        ("154.62", "156.2", False),
        ("0.00", "0.000009", True),  # abs_tol=1e-5
        ("0.00", "0.00002", False),
        ("-37", "-37.3", True),
        ("-37", "37", False),
    ],
)
def test_numeric_tolerance_boundary(stored, pred, ok):
    assert verify(stored, pred) is ok


def test_strings_case_insensitive_trimmed():
    assert verify("cat imagines book", "  Cat Imagines BOOK ")
    assert verify("XXXVIII", "xxxviii")
    assert not verify("cat imagines book", "cat imagines books")


def test_string_vs_number_mismatch():
    assert not verify("XL", "40")
    assert not verify("40", "XL")


def test_score_output_goes_through_extraction():
    assert score_output("16.65", "\\boxed{16.7}")
    assert score_output("0101", "work... \\boxed{0101}")
    assert not score_output("0101", "\\boxed{101}")
    assert score_output("LIX", "Final answer: lix")


def test_aggregate_lists_every_domain():
    agg = aggregate([("numeral", True), ("numeral", False), ("cipher", True)], ["numeral", "cipher", "gravity"])
    assert agg["n"] == 3
    assert agg["overall"] == pytest.approx(2 / 3, abs=1e-6)
    assert agg["domains"]["numeral"] == {"score": 0.5, "n": 2}
    assert agg["domains"]["gravity"] == {"score": 0.0, "n": 0}
