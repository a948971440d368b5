"""Reads a tool's description and per-parameter descriptions from a Google-style docstring.

    def add(a: int, b: int) -> int:
        '''Add two integers.

        Args:
            a: The first addend.
            b (int): The second addend; may span
                several lines.
        '''

gives ("Add two integers.", {"a": "The first addend.", "b": "The second addend; may span several lines."}).
"""

from __future__ import annotations

import inspect
import re

_ARGS_HEADER = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments)\s*:\s*$")
_ANY_HEADER = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Returns (first paragraph joined into one line, {parameter name: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()

    summary: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or _ANY_HEADER.match(stripped):
            break
        summary.append(stripped)

    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        header = lines[i]
        i += 1
        if not _ARGS_HEADER.match(header.strip()):
            continue
        base = _indent(header)
        entry_indent: int | None = None
        current: str | None = None
        while i < len(lines):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                break  # next section (or text) at the header's level ends the Args block
            i += 1
            if not line.strip():
                continue
            indent = _indent(line)
            if entry_indent is None:
                entry_indent = indent
            m = _ENTRY.match(line.strip()) if indent == entry_indent else None
            if m:
                current = m.group(1)
                params[current] = m.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
    return " ".join(summary), params
