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

from dataclasses import dataclass
from functools import lru_cache

from .shell_lexer import MAX_LISTS, REDIRECTIONS, Lexer, Word
from .wrappers import Doubt, Run, Runs, Source, inner

KEYWORDS = {"!", "{", "}", "if", "then", "elif", "else", "fi", "do", "done", "while", "until", "time", "function"}
LISTS = {"for", "select"}  # `for x in a b`: its words are no command


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


class _Reader(Lexer):
    def __init__(self, text: str, depth: int, found: list[Command] | None = None) -> None:
        super().__init__(text, depth)
        self.found: list[Command] = [] if found is None else found
        self.heredocs: list[tuple[str, bool, bool]] = []  # delimiter, strip tabs, expands

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
