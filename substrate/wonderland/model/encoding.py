"""Prompt -> compact character string -> token ids (frozen; used identically at train and test time).

A Wonderland prompt is ~300-600 characters of boilerplate around a few worked examples.  The model
sees a compact rendering of the same information: a one-letter domain tag, the worked examples (in
prompt order, as many as fit in ``MAX_INPUT`` characters; for aligned families the first example that
does not fit is cut to the prefix that does) separated by ``|``, then ``?`` and the query.
Nothing is solved here: the hidden rule must still be inferred from the examples.

Two kinds of families:
- *free-form* (gravity, unit_conversion, numeral, equation): examples render as ``input>output`` and the
  model writes the answer after SEP, ending with EOS::

      E96$54>9654|13$71>1371?32$17 SEP 3217 EOS

- *aligned* (bit_manipulation, cipher: the rule rewrites each character in place, so the answer has the
  query's length): examples render character-interleaved (``i1 o1 i2 o2 ...``), and the answer is
  written as a transduction -- after SEP the query characters are fed back one by one and the model
  writes the output character for each (``q1 o1 q2 o2 ...``; loss on the ``o`` only)::

      B0110...|...?10010111 SEP 1 o1 0 o2 0 o3 1 o4 ...

Tokens are printable ASCII (32..126) plus PAD, SEP (prompt/answer boundary) and EOS.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from harness.parse import parse_prompt

MAX_INPUT = 72
MAX_ANSWER = 30
BLOCK = MAX_INPUT + 1 + 2 * MAX_ANSWER + 1  # input, SEP, answer (aligned: 2 tokens per char), EOS

PAD, SEP, EOS = 0, 1, 2
_OFFSET = 3  # chr(32) -> 3
VOCAB_SIZE = _OFFSET + 95
UNK = _OFFSET + (ord("?") - 32)

TAGS = {
    "bit_manipulation": "B",
    "gravity": "G",
    "unit_conversion": "U",
    "cipher": "C",
    "numeral": "N",
    "equation": "E",
    "unknown": "Z",
}
ALIGNED = {"bit_manipulation", "cipher"}


def _render_pair(domain: str, a: str, b: str) -> str:
    if domain in ALIGNED and len(a) == len(b):
        return "".join(x + y for x, y in zip(a, b))
    return f"{a}>{b}"


def compact_parts(prompt: str) -> Tuple[str, str, str]:
    """(domain, compact input text, query)."""
    p = parse_prompt(prompt)
    tag = TAGS.get(p.domain, "Z")
    query = p.query[: min(MAX_INPUT - 2, MAX_ANSWER)] if p.domain in ALIGNED else p.query[: MAX_INPUT - 2]
    budget = MAX_INPUT - 2 - len(query)
    parts: List[str] = []
    for a, b in p.examples:
        piece = _render_pair(p.domain, a, b)
        cost = len(piece) + (1 if parts else 0)
        if cost > budget:
            # an in-place rule's example is still informative when cut: keep the prefix that fits
            room = budget - (1 if parts else 0)
            if p.domain in ALIGNED and len(a) == len(b) and room >= 2:
                parts.append(piece[: room - room % 2])
            break
        parts.append(piece)
        budget -= cost
    return p.domain, f"{tag}{'|'.join(parts)}?{query}", query


def compact(prompt: str) -> str:
    return compact_parts(prompt)[1]


def encode_text(s: str) -> List[int]:
    return [(_OFFSET + ord(c) - 32) if 32 <= ord(c) <= 126 else UNK for c in s]


def decode_ids(ids: List[int]) -> str:
    out = []
    for i in ids:
        if i == EOS:
            break
        if i >= _OFFSET:
            out.append(chr(i - _OFFSET + 32))
    return "".join(out)


def encode_prompt(prompt: str) -> Tuple[List[int], Optional[List[int]]]:
    """(ids of the model input ending with SEP, query ids to transduce for aligned families else None)."""
    domain, text, query = compact_parts(prompt)
    ids = encode_text(text) + [SEP]
    return ids, (encode_text(query) if domain in ALIGNED and query else None)


def encode_example(prompt: str, answer: str) -> Tuple[List[int], List[int]]:
    """(ids, target mask): ``mask[j] == 1`` when ids[j] is an answer token the model is trained to predict.

    Positions before SEP are the prompt (mask 0; trained only with ``prompt_loss_weight``), marked -1
    so the trainer can tell them from the forced query tokens of an aligned answer (also 0).
    """
    x, forced = encode_prompt(prompt)
    answer = str(answer)[:MAX_ANSWER]
    mask = [-1] * len(x)
    if forced is not None and len(forced) == len(answer):
        ids = list(x)
        for q, o in zip(forced, encode_text(answer)):
            ids += [q, o]
            mask += [0, 1]
        return ids, mask
    y = encode_text(answer) + [EOS]
    return x + y, mask + [1] * len(y)
