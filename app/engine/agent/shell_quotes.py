"""Bash's `$'...'` quoting, decoded (shell.py): `$'\\x63at'` is `cat` to the shell, so it must be
to the permission hook's rules too."""

from __future__ import annotations

import re

ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
NUMERIC = re.compile(r"x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})|([0-7]{1,3})")


def ansi_c(text: str, start: int) -> tuple[str, int, str | None]:
    """The value of the `$'...'` whose content begins at `start`, where the text goes on after
    its closing quote, and why it is in doubt (None: it is not)."""
    parts: list[str] = []
    i, doubt = start, None
    while i < len(text) and text[i] != "'":
        if text[i] == "\\" and i + 1 < len(text):
            if match := NUMERIC.match(text, i + 1):
                group = match.lastindex or 1
                parts.append(chr(min(int(match.group(group), 8 if group == 4 else 16), 0x10FFFF)))
                i = match.end()
                continue
            following = text[i + 1]
            if following == "c":
                doubt = "a control character escape in $'...'"
            parts.append(ESCAPES.get(following, following))
            i += 2
        else:
            parts.append(text[i])
            i += 1
    if i >= len(text):
        doubt = "a quote is not closed"
    return "".join(parts), i + 1, doubt
