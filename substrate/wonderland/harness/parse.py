"""Reading Wonderland prompts back into (domain, examples, query) (frozen).

Used by the model's input encoding and by scoring when an answer file has no ``domain`` column.
Parsing is template-based but tolerant: unknown lines are ignored, and an unrecognised prompt is
reported as domain ``unknown`` with no examples (the model then sees the prompt's last line).
"""
from __future__ import annotations

import re
from typing import List, NamedTuple, Tuple

DOMAIN_MARKERS = [
    ("bit_manipulation", "bit manipulation"),
    ("gravity", "gravitational"),
    ("unit_conversion", "unit conversion"),
    ("cipher", "encryption"),
    ("numeral", "numeral system"),
    ("equation", "transformation rules"),
]


class Parsed(NamedTuple):
    domain: str
    examples: List[Tuple[str, str]]
    query: str


def detect_domain(prompt: str) -> str:
    low = prompt.lower()
    for domain, marker in DOMAIN_MARKERS:
        if marker in low:
            return domain
    return "unknown"


_EXAMPLE_RE = {
    "bit_manipulation": re.compile(r"^\s*([01]+)\s*->\s*([01]+)\s*$"),
    "gravity": re.compile(r"^\s*For t\s*=\s*([-\d.]+)\s*s\s*,\s*distance\s*=\s*([-\d.]+)\s*m\s*$", re.I),
    "unit_conversion": re.compile(r"^\s*([-\d.]+)\s*\S*\s+becomes\s+([-\d.]+)\s*$"),
    "cipher": re.compile(r"^\s*(.+?)\s+->\s+(.+?)\s*$"),
    "numeral": re.compile(r"^\s*(\d+)\s*->\s*(\S+)\s*$"),
    "equation": re.compile(r"^\s*(\S+)\s+=\s+(\S*)\s*$"),
}

_QUERY_RE = {
    "bit_manipulation": re.compile(r"output for:\s*([01]+)"),
    "gravity": re.compile(r"for t\s*=\s*([-\d.]+)\s*s", re.I),
    "unit_conversion": re.compile(r"measurement:\s*([-\d.]+)"),
    "cipher": re.compile(r"decrypt the following text:\s*(.+?)\s*$"),
    "numeral": re.compile(r"write the number\s+(\d+)"),
    "equation": re.compile(r"result for:\s*(\S+)"),
}


def parse_prompt(prompt: str) -> Parsed:
    domain = detect_domain(prompt)
    lines = [l for l in prompt.splitlines() if l.strip()]
    if domain == "unknown" or not lines:
        return Parsed("unknown", [], lines[-1].strip() if lines else "")
    examples: List[Tuple[str, str]] = []
    query = ""
    for line in lines:
        if line.lstrip().lower().startswith("now"):
            m = _QUERY_RE[domain].search(line)
            query = m.group(1).strip() if m else line.strip()
            continue
        m = _EXAMPLE_RE[domain].match(line)
        if m and not line.lstrip().startswith("In Alice"):
            examples.append((m.group(1).strip(), m.group(2).strip()))
    if not query:
        query = lines[-1].strip()
    return Parsed(domain, examples, query)
