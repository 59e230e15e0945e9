"""The words and operators of a shell command line, as the shell reads them (shell.py parses
them into commands): quotes removed, and `$(...)`, backticks and `${...}` seen for what they are.
A word the shell makes at run time is not `known`. Substitutions are command lines of their own,
which the parser (a subclass: `commands_until`, `nested`) reads as they come."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .shell_quotes import ansi_c

MAX_DEPTH = 12  # nested command lines (sh -c "sh -c ..."): past it, a doubt
MAX_LISTS = 48  # nested subshells and substitutions in one line
OPERATORS = ("&&", "||", ";;&", ";;", ";&", "|&", "&>>", "&>", ">>", "<<<", "<<-", "<<", "<&", ">&", "<>", ">|")
REDIRECTIONS = {"<", ">", ">>", "<&", ">&", "<>", ">|", "&>", "&>>", "<<<", "<<", "<<-"}
METACHARACTERS = " \t\n;&|()<>"
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


@dataclass(frozen=True)
class Word:
    text: str  # quotes removed
    known: bool = True  # False: the shell makes (part of) it at run time
    assignment: bool = False  # NAME=value before a command


class Lexer:
    def __init__(self, text: str, depth: int) -> None:
        self.text, self.i, self.depth = text, 0, depth
        self.doubt: str | None = "it nests command lines too deep" if depth > MAX_DEPTH else None
        self.open_lists = 0  # subshells, substitutions and arrays open at the reader

    def doubt_that(self, why: str) -> None:
        self.doubt = self.doubt or why

    def commands_until(self, end: str | None) -> None:
        raise NotImplementedError

    def nested(self, text: str) -> None:
        raise NotImplementedError

    def token(self) -> Word | str | None:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c in " \t":
                self.i += 1
            elif text.startswith("\\\n", self.i):
                self.i += 2
            elif c == "#":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
            else:
                break
        if self.i >= len(text):
            return None
        for operator in ("<(", ">(", *OPERATORS):
            if text.startswith(operator, self.i):
                self.i += len(operator)
                return operator
        if text[self.i] in METACHARACTERS:
            self.i += 1
            return text[self.i - 1]
        word = self.word()
        if word.text.isdigit() and word.known and self.i < len(text) and text[self.i] in "<>":
            return self.token()  # `2>file`: a descriptor's number, not a word
        return word

    def word(self) -> Word:
        text, known = self.text, True
        parts: list[str] = []
        raw: list[str] = []
        assignment = False
        while self.i < len(text) and text[self.i] not in METACHARACTERS:
            c = text[self.i]
            if not parts and not assignment and (match := ASSIGNMENT.match(text, self.i)):
                assignment = True
                parts.append(match.group())
                self.i = match.end()
                if text.startswith("(", self.i):  # an array: `a=(x y)`, words, not commands
                    self.i += 1
                    self.open_lists += 1
                    while self.open_lists <= MAX_LISTS and self.token() not in (")", None):
                        pass
                    if self.open_lists > MAX_LISTS:
                        self.doubt_that("it nests arrays too deep")
                        self.i = len(text)
                    self.open_lists -= 1
                    known = False
                continue
            if c == "\\":
                if text.startswith("\\\n", self.i):
                    self.i += 2
                    continue
                parts.append(text[self.i + 1 : self.i + 2])
                self.i += 2
            elif c == "'":
                end = text.find("'", self.i + 1)
                if end < 0:
                    self.doubt_that("a quote is not closed")
                    end = len(text)
                parts.append(text[self.i + 1 : end])
                self.i = end + 1
            elif c == '"' or text.startswith('$"', self.i):
                self.i += 1 if c == '"' else 2
                value, certain = self.word_part_double('"')
                parts.append(value)
                known = known and certain
            elif text.startswith("$'", self.i):
                value, self.i, doubt = ansi_c(text, self.i + 2)
                parts.append(value)
                if doubt:
                    self.doubt_that(doubt)
            elif c == "$" or c == "`":
                known = self.expansion(parts) and known
            else:
                raw.append(c)
                parts.append(c)
                known = known and c not in "*?"
                self.i += 1
        unquoted = "".join(raw)
        if re.search(r"\[.*\]", unquoted):
            known = False  # a bracket pattern; a lone `[` or `[[` (test) is itself
        if "{" in unquoted and "}" in unquoted and ("," in unquoted or ".." in unquoted):
            known = False  # brace expansion: `{cat,/etc/hostname}` is two words
        return Word("".join(parts), known, assignment)

    def word_part_double(self, end: str | None) -> tuple[str, bool]:
        """Inside double quotes (or a here-document's body, `end` None): the text, and whether it
        is known (no expansion in it)."""
        text, known = self.text, True
        parts: list[str] = []
        while self.i < len(text):
            c = text[self.i]
            if c == end:
                self.i += 1
                return "".join(parts), known
            if c == "\\" and self.i + 1 < len(text):
                following = text[self.i + 1]
                parts.append(following if following in '$`"\\' else "" if following == "\n" else c + following)
                self.i += 2
            elif c == "$" or c == "`":
                known = self.expansion(parts) and known
            else:
                parts.append(c)
                self.i += 1
        if end is not None:
            self.doubt_that("a quote is not closed")
        return "".join(parts), known

    def expansion(self, parts: list[str]) -> bool:
        """A `$...` or backtick at the reader: its command lines read; whether its value is known
        (a lone `$` is, and goes to `parts`)."""
        text = self.text
        if text[self.i] == "`":
            body, self.i = [], self.i + 1
            while self.i < len(text) and text[self.i] != "`":
                if text[self.i] == "\\" and text[self.i + 1 : self.i + 2] in ("`", "\\", "$"):
                    self.i += 1
                body.append(text[self.i])
                self.i += 1
            if self.i >= len(text):
                self.doubt_that("a backtick is not closed")
            self.i += 1
            self.nested("".join(body))
            return False
        if text.startswith("$((", self.i) and (end := self.arithmetic_end()) is not None:
            inside = text[self.i + 3 : end]
            if "$(" in inside or "`" in inside:
                self.doubt_that("an arithmetic expansion the permission hook cannot follow")
            self.i = end + 2
            return False
        if text.startswith("$(", self.i):
            self.i += 2
            self.commands_until(")")
            return False
        if text.startswith("${", self.i):
            end = text.find("}", self.i)
            inside = text[self.i : end if end >= 0 else len(text)]
            if end < 0 or "$(" in inside or "`" in inside or "${" in inside[2:]:
                self.doubt_that("a parameter expansion the permission hook cannot follow")
            self.i = len(text) if end < 0 else end + 1
            return False
        match = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])").match(text, self.i)
        if match:
            self.i = match.end()
            return False
        self.i += 1
        parts.append("$")
        return True  # a lone `$`

    def arithmetic_end(self) -> int | None:
        """Where the `))` of the `$((` at the reader is; None if it is `$(` and a subshell:
        `$((cat x) )` runs `cat x`."""
        depth, j = 2, self.i + 3
        while j < len(self.text):
            if self.text[j] == "(":
                depth += 1
            elif self.text[j] == ")":
                depth -= 1
                if depth == 1:
                    return j if self.text.startswith(")", j + 1) else None
            j += 1
        self.doubt_that("an arithmetic expansion is not closed")
        return len(self.text)
