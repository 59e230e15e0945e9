"""Claude Code's Bash rules (`Bash(git:*)`: the command starts with the words `git`; `Bash(git
status)`: it is exactly that) held against every command of a line as shell.py reads it.

A deny rule covers a line if it covers any of its commands, or may (a word it looks at is made at
run time, or the line cannot be read for sure: `verdict` says why). An allow rule covers a line
only if it covers each command surely. A program's folder is left out for a deny rule (`/bin/cat`
is `cat`), and for an allow rule only if it is a system folder: `./git status` runs a file Claude
may have written, not git.
"""

from __future__ import annotations

import shlex

from .shell import Command, Line, parse

SYSTEM_FOLDERS = {"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"}


def rule_words(spec: str) -> tuple[list[str], bool]:
    """A rule's words, and whether it is a prefix (`:*`)."""
    prefix = spec.endswith(":*")
    text = spec[:-2] if prefix else spec
    try:
        return shlex.split(text), prefix
    except ValueError:
        return text.split(), prefix


def covers(spec: str, line: str, deny: bool) -> bool:
    return verdict(spec, parse(line), deny) is not False


def verdict(spec: str, line: Line, deny: bool) -> bool | str:
    """True: the rule covers the line; False: it does not; for a deny rule, a text: it may, and
    why the hook cannot tell (a deny rule refuses then)."""
    words, prefix = rule_words(spec)
    if deny:
        if line.doubt:
            return line.doubt
        found = [_command(words, prefix, command, deny) for command in line.commands]
        if True in found:
            return True
        return "a word it looks at is made at run time" if None in found else False
    if line.doubt or not line.commands:
        return False
    return all(_command(words, prefix, command, deny) is True for command in line.commands)


def _command(words: list[str], prefix: bool, command: Command, deny: bool) -> bool | None:
    """Whether the rule covers one command; None: it depends on words made at run time."""
    if not words:
        return False
    for n, expected in enumerate(words):
        if n >= len(command.words):
            return None if command.open else False
        word = command.words[n]
        if not word.known:
            return None
        if word.text != expected and (n > 0 or program(word.text, deny) != expected):
            return False
    if prefix or len(command.words) == len(words):
        return None if command.open and not prefix else True
    return False


def program(path: str, deny: bool) -> str:
    folder, _, name = path.rpartition("/")
    return name if deny or (folder or "/") in SYSTEM_FOLDERS else path
