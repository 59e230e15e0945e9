"""The commands a Bash command line runs, read as a shell reads it, for the permission hook's
rules (`Bash(cat:*)` denies any `cat`; `Bash(git:*)` allows a line only if every command is git).

Splitting the text at `;`, `|` and `&&` was stepped around with `sh -c "cat /etc/hostname"`, and
quoting (`'c'at`, `"ca""t"`, `\\cat`) changes the text but not the command. So the line is read
with the shell's quoting rules (shlex's model is POSIX's, but it cannot tell what a double-quoted
`$(...)` runs): words with their quotes removed; `;`, `&`, `|`, `&&`, `||`, newlines, subshells,
`{ }` groups and `if`/`while` bodies split commands; `$(...)`, backticks, `<(...)`, `>(...)` and
unquoted here-documents' substitutions are command lines of their own; and the programs that run
another command (wrappers.py: `sh -c`, `eval`, `env`, `xargs`, `timeout`, `find -exec`...) are
opened, recursively. Every layer is a command: `timeout 5 cat x` is both `timeout 5 cat x` and
`cat x`, so a deny rule may match either, and an allow rule must match both.

A word whose value the shell makes at run time (`$X`, a glob, `{a,b}`, a substitution) is not
`known`; a line the reader cannot follow for sure (such a word as a program's name, a script file
run, an alias, an unbalanced quote) has a `doubt`, which the hook refuses under any Bash deny rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .shell_quotes import ansi_c
from .wrappers import Doubt, Run, Runs, Source, inner

MAX_DEPTH = 12  # nested command lines (sh -c "sh -c ..."): past it, a doubt
MAX_LISTS = 48  # nested subshells and substitutions in one line
KEYWORDS = {"!", "{", "}", "if", "then", "elif", "else", "fi", "do", "done", "while", "until", "time", "function"}
LISTS = {"for", "select"}  # `for x in a b`: its words are no command
OPERATORS = ("&&", "||", ";;&", ";;", ";&", "|&", "&>>", "&>", ">>", "<<<", "<<-", "<<", "<&", ">&", "<>", ">|")
REDIRECTIONS = {"<", ">", ">>", "<&", ">&", "<>", ">|", "&>", "&>>", "<<<", "<<", "<<-"}
METACHARACTERS = " \t\n;&|()<>"
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


@dataclass(frozen=True)
class Word:
    text: str  # quotes removed
    known: bool = True  # False: the shell makes (part of) it at run time
    assignment: bool = False  # NAME=value before a command


@dataclass(frozen=True)
class Command:
    words: tuple[Word, ...]
    open: bool = False  # more arguments come at run time (xargs)


@dataclass(frozen=True)
class Line:
    commands: tuple[Command, ...]
    doubt: str | None  # why the line cannot be read for sure; None: it can


@lru_cache(maxsize=64)
def parse(line: str) -> Line:
    reader = _Reader(line, 0)
    reader.commands_until(None)
    return Line(tuple(reader.found), reader.doubt)


class _Reader:
    def __init__(self, text: str, depth: int, found: list[Command] | None = None) -> None:
        self.text, self.i, self.depth = text, 0, depth
        self.found: list[Command] = [] if found is None else found
        self.doubt: str | None = "it nests command lines too deep" if depth > MAX_DEPTH else None
        self.heredocs: list[tuple[str, bool, bool]] = []  # delimiter, strip tabs, expands
        self.open_lists = 0

    def doubt_that(self, why: str) -> None:
        self.doubt = self.doubt or why

    def nested(self, text: str) -> None:
        """A command line inside this one (`sh -c TEXT`, backticks, a here-document's body)."""
        reader = _Reader(text, self.depth + 1, self.found)
        if reader.doubt is None:
            reader.commands_until(None)
        if reader.doubt:
            self.doubt_that(reader.doubt)

    # --- commands -------------------------------------------------------------------------------
    def commands_until(self, end: str | None) -> None:
        self.open_lists += 1
        if self.open_lists > MAX_LISTS:
            self.doubt_that("it nests subshells too deep")
            self.i = len(self.text)
            return
        try:
            self.list_until(end)
        finally:
            self.open_lists -= 1

    def list_until(self, end: str | None) -> None:
        words: list[Word] = []
        while True:
            token = self.token()
            if token is None:
                if end is not None:
                    self.doubt_that(f"a `{end}` is missing")
                return self.command(words)
            if isinstance(token, Word):
                words.append(token)
            elif token == end:
                return self.command(words)
            elif token == "(":
                if not words:
                    self.commands_until(")")  # a subshell
                elif self.token() == ")" and [w.text for w in words][:-1] in ([], ["function"]):
                    words = []  # `name()`: a function's body follows
                else:
                    self.doubt_that("a `(` in an unexpected place")
            elif token in ("<(", ">("):
                self.commands_until(")")
                words.append(Word("", known=False))  # /dev/fd/N
            elif token in REDIRECTIONS:
                before = self.i
                target = self.token()
                if not isinstance(target, Word):
                    self.doubt_that(f"`{token}` without a target")
                elif token in ("<<", "<<-"):  # a quoted delimiter: the body is not expanded
                    expands = not any(quote in self.text[before : self.i] for quote in "'\\\"")
                    self.heredocs.append((target.text, token == "<<-", expands))
            else:  # ; & | && || newline ;; ) ...
                self.command(words)
                words = []
                if token == "\n":
                    self.read_heredocs()
                elif token == ")":
                    self.doubt_that("a `)` without its `(`")

    def command(self, words: list[Word]) -> None:
        """A simple command's layers: as written, without its assignments, what its wrapper runs."""
        while words and words[0].known and words[0].text in KEYWORDS:
            skip = 2 if words[0].text == "function" or [w.text for w in words[:2]] == ["time", "-p"] else 1
            words = words[skip:]
        if not words or (words[0].known and words[0].text in LISTS):
            return
        self.found.append(Command(tuple(words)))
        start = next((n for n, word in enumerate(words) if not word.assignment), len(words))
        if 0 < start < len(words):
            self.found.append(Command(tuple(words[start:])))
        self.unwrap(words[start:])

    def unwrap(self, words: list[Word]) -> None:
        if not words:
            return
        if not words[0].known:
            return self.doubt_that("a command's name is made at run time")
        name = words[0].text.rsplit("/", 1)[-1]
        what = inner(name, [w.text for w in words], [w.known for w in words])
        if isinstance(what, Doubt):
            self.doubt_that(what.why)
        elif isinstance(what, Source):
            self.nested(what.text)
        elif what is not None:
            for run in what.each if isinstance(what, Runs) else (what,):
                assert isinstance(run, Run)
                wrapped = words[run.start : run.end]
                if wrapped:
                    self.found.append(Command(tuple(wrapped), run.open))
                    self.unwrap(wrapped)

    def read_heredocs(self) -> None:
        for delimiter, strip, expands in self.heredocs:
            body = []
            while self.i < len(self.text):
                end = self.text.find("\n", self.i)
                end = len(self.text) if end < 0 else end
                line, self.i = self.text[self.i : end], end + 1
                if (line.lstrip("\t") if strip else line) == delimiter:
                    break
                body.append(line)
            if expands:  # as in double quotes: its substitutions run
                reader = _Reader("\n".join(body), self.depth + 1, self.found)
                reader.word_part_double(None)
                if reader.doubt:
                    self.doubt_that(reader.doubt)
        self.heredocs = []

    # --- tokens ---------------------------------------------------------------------------------
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
                known = known and c not in "*?["
                self.i += 1
        unquoted = "".join(raw)
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
