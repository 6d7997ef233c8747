"""Text a confined process may have chosen, made safe to print on one line."""

from __future__ import annotations


def printable(value: object) -> str:
    """`value` as text with anything unprintable (a newline or carriage return a process put in
    a file or profile name) as a Python escape (`\\n`, `\\r`, `\\x1b`), so it cannot break or
    forge a line of output."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
