"""Programs that run another command (shell.py asks them which): `sh -c "cat x"`, `eval`, `env`,
`xargs`, `timeout 5 cat x`, `find . -exec cat {} ;`... A deny rule for `cat` must see the `cat` in
each, and an allow rule for `git` must not let `git status; cat x` through inside one.

Each wrapper's options are listed in full (those that take a value, and the flags): an option not
listed makes the line doubtful, for its value could be taken for the command or the command for
its value. What a wrapper runs comes back as one of:
- `Run(start, open)`: the words from `start` on are a command (`open`: more arguments come at run
  time, as with xargs); `Runs`: several (find's `-exec ... ;`, each);
- `Source(text)`: a command line in a string (`sh -c`, `eval`, `trap`, `su -c`, `watch`);
- `Doubt(why)`: it runs something the hook cannot read (a script file, its input, an alias).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    start: int
    open: bool = False
    end: int | None = None  # the command's words end before this one (find's `;` or `+`)


@dataclass(frozen=True)
class Source:
    text: str


@dataclass(frozen=True)
class Doubt:
    why: str


@dataclass(frozen=True)
class Runs:
    each: tuple[Run, ...]


Inner = Run | Runs | Source | Doubt | None


@dataclass(frozen=True)
class Options:
    """A wrapper's options: those that take a value, the flags, the operands before its command."""

    values: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    operands: int = 0
    source: frozenset[str] = frozenset()  # options whose value is a command line (`-c`, env's `-S`)
    open: bool = False
    joined: bool = False  # its command and arguments are joined into one line for a shell (watch)


def _o(values: str = "", flags: str = "", **more: object) -> Options:
    return Options(frozenset(values.split()), frozenset(flags.split()), **more)  # type: ignore[arg-type]


WRAPPERS = {
    "command": _o(flags="-p -v -V"),
    "builtin": _o(),
    "exec": _o("-a", "-c -l"),
    "nohup": _o(),
    "setsid": _o(flags="-c -f -w --ctty --fork --wait"),
    "time": _o("-f -o --format --output", "-p -a -v -q --append --verbose --quiet --portability"),
    "nice": _o("-n --adjustment"),
    "env": _o(
        "-u --unset -C --chdir -S --split-string",
        "-i - --ignore-environment -0 --null -v --debug",
        source=frozenset({"-S", "--split-string"}),
    ),
    "timeout": _o("-s --signal -k --kill-after", "--preserve-status --foreground -v --verbose", operands=1),
    "stdbuf": _o("-i -o -e --input --output --error"),
    "ionice": _o("-c -n --class --classdata", "-t --ignore"),
    "xargs": _o(
        "-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars --process-slot-var",
        "-0 --null -r --no-run-if-empty -t --verbose -p --interactive -x --exit -o --open-tty",
        open=True,
    ),
    "sudo": _o(
        "-C -D -g -h -p -R -r -t -T -U -u --close-from --chdir --group --host --prompt --chroot --role --type "
        "--command-timeout --other-user --user",
        "-A -b -E -H -i -K -k -n -P -S -s -B -N --askpass --background --preserve-env --set-home --login "
        "--remove-timestamp --reset-timestamp --non-interactive --preserve-groups --stdin --shell --bell",
    ),
    "doas": _o("-u -C", "-n -s -L"),
    "flock": _o(
        "-w --timeout -E --conflict-exit-code -c --command",
        "-s -x -n -u -o -F --shared --exclusive --nonblock --unlock --close --no-fork --verbose",
        operands=1,
        source=frozenset({"-c", "--command"}),
    ),
    "watch": _o("-n --interval -q --equexit", "-b -c -C -d -e -g -p -r -t -w -x --differences", joined=True),
}
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "rbash"}
SHELL_VALUES = {"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}
C_OPTION = {"su": "-c --command", "runuser": "-c --command", "script": "-c --command"}
STRINGS = {"eval": 0, "trap": 0}  # their (first) argument is a command line
OPAQUE = {
    "source": "runs a script file",
    ".": "runs a script file",
    "alias": "defines an alias, which renames commands",
    "hash": "may give a program another name",
    "coproc": "runs a coprocess",
    "case": "has a case statement",
    "enable": "may load a builtin",
}
# Programs that run another program after options of their own, whose options are not read here:
# a line with one of them is a line the rules cannot check.
RUNNERS = (
    "taskset unshare prlimit chrt setpriv strace ltrace numactl faketime parallel nsenter chroot "
    "systemd-run cgexec sg firejail valgrind perf gdb catchsegv chpst setarch linux32 linux64 fakeroot "
    "proot bwrap"
).split()
OPAQUE |= {name: "runs another program, with options the rules do not read" for name in RUNNERS}


def inner(name: str, words: list[str], known: list[bool]) -> Inner:
    """What the command `name` (its program's name) with arguments `words` (words[0] is the
    program, `known`: each word's value is certain) runs, if it is a wrapper; else None."""
    if name in OPAQUE:
        return Doubt(f"`{name}` {OPAQUE[name]}")
    if name in STRINGS:
        if len(words) < 2:
            return None
        return Source(words[1]) if known[1] else Doubt(f"`{name}` runs a command line made at run time")
    if name in SHELLS:
        return _shell(name, words, known)
    if name in C_OPTION:
        return _c_option(name, words, known, C_OPTION[name].split())
    if name == "busybox":
        return Run(1) if len(words) > 1 else None
    if name == "find":
        return _find(words)
    options = WRAPPERS.get(name)
    return _wrapper(name, words, known, options) if options is not None else None


def _wrapper(name: str, words: list[str], known: list[bool], options: Options) -> Inner:
    i, operands = 1, options.operands
    while i < len(words):
        word = words[i]
        if not known[i]:
            return Doubt(f"`{name}` has an option or operand made at run time")
        if word == "--":
            i += 1
            break
        if word.startswith("-") and word != "-" or word == "-" and "-" in options.flags:
            option, has_value = (
                (word.split("=", 1)[0], True) if word.startswith("--") and "=" in word else (word, False)
            )
            if option in options.values or (
                len(option) > 2 and not option.startswith("--") and option[:2] in options.values
            ):
                attached = has_value or option not in options.values
                value_at = i if attached else i + 1
                if value_at >= len(words) or not known[value_at]:
                    return Doubt(f"`{name}` has an option value made at run time")
                if option in options.source or option[:2] in options.source:
                    value = (
                        words[i].split("=", 1)[1] if has_value else words[value_at][2:] if attached else words[value_at]
                    )
                    return Source(" ".join([value, *words[value_at + 1 :]]))
                i = value_at + 1
                continue
            if option in options.flags or (name == "nice" and option[1:].isdigit()):
                i += 1
                continue
            return Doubt(f"`{name}` has an option the permission hook does not know ({word})")
        if name == "env" and "=" in word and not word.startswith("="):
            i += 1  # NAME=VALUE
            continue
        if operands:
            operands -= 1
            i += 1
            continue
        break
    if i >= len(words):
        return None
    if options.joined:
        return Source(" ".join(words[i:])) if all(known[i:]) else Doubt(f"`{name}` runs a line made at run time")
    return Run(i, options.open)


def _shell(name: str, words: list[str], known: list[bool]) -> Inner:
    i, command = 1, False
    while i < len(words):
        word = words[i]
        if not known[i]:
            return Doubt(f"`{name}` has an argument made at run time")
        if word in SHELL_VALUES:
            i += 2
            continue
        if word == "--" or word == "-":
            i += 1
            break
        if word.startswith(("-", "+")) and len(word) > 1:
            if not word.startswith("--"):
                command = command or "c" in word[1:]
                if "s" in word[1:]:
                    return Doubt(f"`{name} -s` reads its commands from its input")
                if word[-1] in "oO":  # `-euo pipefail`
                    i += 2
                    continue
            elif word == "--command":
                command = True
            i += 1
            continue
        break
    if command:
        if i >= len(words):
            return Doubt(f"`{name} -c` without a command")
        return Source(words[i])
    if i < len(words):
        return Doubt(f"`{name}` runs a script file, which the permission hook cannot read")
    return Doubt(f"`{name}` reads its commands from its input")


def _c_option(name: str, words: list[str], known: list[bool], options: list[str]) -> Inner:
    for i, word in enumerate(words[1:], 1):
        for option in options:
            if word == option or (option.startswith("--") and word.startswith(option + "=")):
                value_at = i if "=" in word else i + 1
                if value_at >= len(words) or not known[value_at]:
                    return Doubt(f"`{name}` runs a command line made at run time")
                return Source(words[value_at].split("=", 1)[1] if "=" in word else words[value_at])
            if word.startswith(option) and len(option) == 2 and len(word) > 2 and not word.startswith("--"):
                return Source(word[2:])
    return Doubt(f"`{name}` starts a shell that reads its commands from its input")


def _find(words: list[str]) -> Inner:
    runs, i = [], 1
    while i < len(words):
        if words[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(i + 1, len(words)) if words[j] in (";", "+")), len(words))
            runs.append(Run(i + 1, words[end - 1] == "{}" if end < len(words) else False, end))
            i = end
        i += 1
    return Runs(tuple(runs)) if runs else None
