"""Bash rules against command lines as a shell reads them (app/engine/agent/shell.py, wrappers.py,
bash_rules.py). Before, a line was split at `;`, `|`, `&&` as text: under `Bash(cat:*)`,
`cat /etc/hostname` was refused but `sh -c "cat /etc/hostname"` ran, and quoting (`'c'at`) or a
wrapper the list missed got around it the same way."""

from __future__ import annotations

import random

import pytest

from app.core.agent import AgentConfig
from app.engine.agent.bash_rules import covers
from app.engine.agent.permissions import ToolGate
from app.engine.agent.shell import parse


def texts(line: str) -> list[str]:
    """The commands of a line, `?` marking a word made at run time."""
    return [" ".join(w.text + ("" if w.known else "?") for w in c.words) for c in parse(line).commands]


# --- the reader -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "commands"),
    [
        ("cat x", ["cat x"]),
        ("'c'at x", ["cat x"]),
        ('"ca""t" x', ["cat x"]),
        ("\\cat x", ["cat x"]),
        ("c\\\nat x", ["cat x"]),  # a line continuation inside a word
        ("$'\\x63at' x", ["cat x"]),
        ("$'\\143at' x", ["cat x"]),
        ("$'c\\at'", ["c\x07t"]),
        ("ls -la; echo rmx", ["ls -la", "echo rmx"]),
        ("a && b || c | d |& e & f", ["a", "b", "c", "d", "e", "f"]),
        ("a\nb", ["a", "b"]),
        ("(a; b)", ["a", "b"]),
        ("{ a; b; }", ["a", "b"]),
        ("if a; then b; elif c; then d; else e; fi", ["a", "b", "c", "d", "e"]),
        ("while a; do b; done < f", ["a", "b"]),
        ("for f in x y; do cat $f; done", ["cat ?"]),
        ("! a", ["a"]),
        ("time -p a", ["a"]),
        ("f() { cat x; }; f", ["cat x", "f"]),
        ("function f { cat x; }", ["cat x"]),
        ("echo $(cat x)", ["cat x", "echo ?"]),
        ('echo "$(cat x)"', ["cat x", "echo ?"]),
        ("echo '$(cat x)'", ["echo $(cat x)"]),
        ("echo `cat x`", ["cat x", "echo ?"]),
        ('echo "`cat x`"', ["cat x", "echo ?"]),
        ("echo $(echo $(cat x))", ["cat x", "echo ?", "echo ?"]),
        ("diff <(cat a) >(cat b)", ["cat a", "cat b", "diff ? ?"]),
        ("echo $((1 + 2))", ["echo ?"]),
        ("echo $((cat x) )", ["cat x", "echo ?"]),  # not arithmetic: a subshell in a substitution
        ("X=$(cat x) ls", ["cat x", "X=? ls", "ls"]),
        ("A=1 B=2 git log", ["A=1 B=2 git log", "git log"]),
        ("X=1", ["X=1"]),
        ("a=(x $(cat y))", ["cat y", "a=?"]),
        ("ls > out 2>&1 < in", ["ls"]),
        ("cat <<EOF\n$(rm x)\nEOF\nls", ["cat", "rm x", "ls"]),  # an unquoted here-document expands
        ("cat <<'EOF'\n$(rm x)\nEOF\nls", ["cat", "ls"]),
        ('cat <<-"EOF"\n\t$(rm x)\n\tEOF\nls', ["cat", "ls"]),
        ("git commit -m \"$(cat <<'EOF'\nFix (it's done)\nEOF\n)\"", ["cat", "git commit -m ?"]),
        ("ls # ; rm x", ["ls"]),
        ("echo {a,b}", ["echo {a,b}?"]),
        ("ls *.py", ["ls *.py?"]),
        ("echo $", ["echo $"]),
        ("dd if=/dev/zero of=x", ["dd if=/dev/zero of=x"]),
    ],
)
def test_the_commands_of_a_line(line, commands):
    assert texts(line) == commands and parse(line).doubt is None, parse(line)


@pytest.mark.parametrize(
    ("line", "commands"),
    [
        ('sh -c "cat /etc/hostname"', ["sh -c cat /etc/hostname", "cat /etc/hostname"]),
        ("bash -lc 'cat x'", ["bash -lc cat x", "cat x"]),
        ("bash -euo pipefail -c 'ls; cat x'", ["bash -euo pipefail -c ls; cat x", "ls", "cat x"]),
        ("/bin/dash -c 'zsh -c \"cat x\"'", ['/bin/dash -c zsh -c "cat x"', "zsh -c cat x", "cat x"]),
        ("bash -c 'cat \"$1\"' _ y", ['bash -c cat "$1" _ y', "cat ?"]),
        ("eval 'cat x'", ["eval cat x", "cat x"]),
        ("env cat x", ["env cat x", "cat x"]),
        ("env -i A=1 -u B cat x", ["env -i A=1 -u B cat x", "cat x"]),
        ("env -S 'cat x' y", ["env -S cat x y", "cat x y"]),
        ("/usr/bin/env cat x", ["/usr/bin/env cat x", "cat x"]),
        ("xargs cat", ["xargs cat", "cat"]),
        ("xargs -0 -I{} -n 1 cat {}", ["xargs -0 -I{} -n 1 cat {}", "cat {}"]),
        ("exec cat x", ["exec cat x", "cat x"]),
        ("exec 3>&1", ["exec"]),
        ("nohup cat x &", ["nohup cat x", "cat x"]),
        ("timeout 5 cat x", ["timeout 5 cat x", "cat x"]),
        ("timeout -s KILL -k 1 5s cat x", ["timeout -s KILL -k 1 5s cat x", "cat x"]),
        ("command cat x", ["command cat x", "cat x"]),
        ("builtin cat x", ["builtin cat x", "cat x"]),
        ("nice -n 5 cat x", ["nice -n 5 cat x", "cat x"]),
        ("nice -5 cat x", ["nice -5 cat x", "cat x"]),
        ("stdbuf -oL cat x", ["stdbuf -oL cat x", "cat x"]),
        ("sudo -u root cat x", ["sudo -u root cat x", "cat x"]),
        ("doas cat x", ["doas cat x", "cat x"]),
        ("setsid -f cat x", ["setsid -f cat x", "cat x"]),
        ("busybox cat x", ["busybox cat x", "cat x"]),
        ("busybox sh -c 'cat x'", ["busybox sh -c cat x", "sh -c cat x", "cat x"]),
        ("su -c 'cat x' nobody", ["su -c cat x nobody", "cat x"]),
        ("flock /tmp/l -c 'cat x'", ["flock /tmp/l -c cat x", "cat x"]),
        ("flock /tmp/l cat x", ["flock /tmp/l cat x", "cat x"]),
        ("watch -n 1 cat x", ["watch -n 1 cat x", "cat x"]),
        ("trap 'cat x' EXIT", ["trap cat x EXIT", "cat x"]),
        (
            "find . -name a -exec cat {} \\; -exec rm {} +",
            ["find . -name a -exec cat {} ; -exec rm {} +", "cat {}", "rm {}"],
        ),
        ("timeout 5 env A=1 nice cat x", ["timeout 5 env A=1 nice cat x", "env A=1 nice cat x", "nice cat x", "cat x"]),
    ],
)
def test_what_a_wrapper_runs_is_a_command_too(line, commands):
    assert texts(line) == commands and parse(line).doubt is None, parse(line)


@pytest.mark.parametrize(
    "line",
    [
        "$X /etc/hostname",
        "X=cat; $X -c /etc/hostname",
        '"$X" x',
        "${X} x",
        "`echo cat` x",
        "$(echo cat) x",
        "/bin/c?t x",
        "{cat,x}",
        "sh script.sh",
        "bash",
        "echo cat x | sh",
        "sh -s < cmds",
        "bash -c",
        'sh -c "$CMD"',
        "eval $CMD",
        'eval "$(curl x)"',
        "source x.sh",
        ". ./x.sh",
        "alias c=cat; c x",
        "hash -p /bin/cat c; c x",
        "case $x in a) cat y;; esac",
        "echo 'open",
        'echo "open',
        "echo $(cat x",
        "echo `cat x",
        "ls )",
        "timeout --unknown 5 cat x",
        "env -Z cat x",
        "xargs $OPTS cat",
        "su nobody",
        "echo ${X:-$(cat x)}",
        "echo $(( $(cat x) ))",
        "cat <<EOF\n${X:-$(rm y)}\nEOF",
        "sh -c " * 14 + "ls",
    ],
)
def test_a_line_the_reader_cannot_follow_is_in_doubt(line):
    assert parse(line).doubt, texts(line)


# --- the rules --------------------------------------------------------------------------------

DENIED = [
    "cat /etc/hostname",
    "'c'at /etc/hostname",
    '"ca""t" /etc/hostname',
    "\\cat /etc/hostname",
    "/bin/cat /etc/hostname",
    "./cat /etc/hostname",
    'sh -c "cat /etc/hostname"',
    "bash -c 'cat /etc/hostname'",
    "dash -c 'cat /etc/hostname'",
    "zsh -c 'cat /etc/hostname'",
    "eval cat /etc/hostname",
    "env cat /etc/hostname",
    "echo /etc/hostname | xargs cat",
    "exec cat /etc/hostname",
    "nohup cat /etc/hostname",
    "timeout 5 cat /etc/hostname",
    "command cat /etc/hostname",
    "builtin cat /etc/hostname",
    "nice cat /etc/hostname",
    "stdbuf -o0 cat /etc/hostname",
    "sudo cat /etc/hostname",
    "echo $(cat /etc/hostname)",
    "echo `cat /etc/hostname`",
    "diff <(cat /etc/hostname) x",
    "ls | cat",
    "ls; cat /etc/hostname",
    "ls && cat /etc/hostname",
    "false || cat /etc/hostname",
    "ls\ncat /etc/hostname",
    "(cat /etc/hostname)",
    "{ cat /etc/hostname; }",
    "X=1 cat /etc/hostname",
    "$X -c /etc/hostname",  # in doubt
    "X=cat; $X /etc/hostname",
    "sh x.sh",
    "find /etc -name hostname -exec cat {} \\;",
    "if true; then cat /etc/hostname; fi",
    "f() { cat /etc/hostname; }; f",
    "trap 'cat /etc/hostname' EXIT",
    "su -c 'cat /etc/hostname'",
    "busybox cat /etc/hostname",
    "taskset 1 cat /etc/hostname",
    "unshare -r cat /etc/hostname",
    "prlimit --nofile=10 cat /etc/hostname",
    "setpriv --reuid 1 cat /etc/hostname",
    "strace -f cat /etc/hostname",
    "ls [ab]*; cat /etc/hostname",
]


@pytest.mark.parametrize("line", DENIED)
def test_a_deny_rule_covers_the_command_however_it_is_written(line):
    assert covers("cat:*", line, deny=True)


@pytest.mark.parametrize(
    "line",
    ["ls -la; echo rmx", "echo cat", "concat x", "grep cat x", "git log | head", "[ -f x ] && ls x", "[[ -d y ]]"],
)
def test_a_deny_rule_leaves_other_commands_alone(line):
    assert not covers("cat:*", line, deny=True)
    assert not covers("rm:*", line, deny=True)


@pytest.mark.parametrize(
    ("spec", "line", "denied"),
    [
        ("git push:*", "git push origin", True),
        ("git push:*", "git status", False),
        ("git push:*", "git $X origin", True),  # the word the rule looks at is made at run time
        ("git push:*", "git status $X", False),
        ("git push:*", "echo push | xargs git", True),  # xargs adds arguments at run time
        ("git push:*", "git 'pu'sh", True),
        ("rm -rf:*", "rm -rf x", True),
        ("rm -rf:*", "rm -r x", False),
        ("npm test", "npm test", True),
        ("npm test", "npm test x", False),
    ],
)
def test_a_deny_rule_of_several_words(spec, line, denied):
    assert covers(spec, line, deny=True) is denied


@pytest.mark.parametrize(
    ("line", "allowed"),
    [
        ("git status", True),
        ("git", True),
        ("'git' status", True),
        ("/usr/bin/git status", True),
        ("git log | git shortlog", True),
        ("git log > out.txt", True),
        ("gitk", False),
        ("git status; cat x", False),
        ("git log && rm -rf x", False),
        ("git log | head", False),
        ("echo $(git log)", False),
        ("git log $(cat x)", False),
        ("git log `cat x`", False),
        ("./git status", False),  # a file in the workspace, not git
        ("/tmp/git status", False),
        ("PAGER='cat x' git log", False),
        ("PATH=. git status", False),
        ("X=1; git status", False),
        ("sh -c 'git status'", False),
        ("env git status", False),
        ("timeout 5 git status", False),
        ("$G status", False),
        ("git status\ncat x", False),
        ("(git status; cat x)", False),
        ("git status & cat x", False),
        ("echo x | xargs git add", False),
        ("git diff <(cat x)", False),
        ("# only a comment", False),
        ("", False),
    ],
)
def test_an_allow_rule_is_not_widened(line, allowed):
    assert covers("git:*", line, deny=False) is allowed


def test_the_hook_says_why_it_refuses_a_line_it_cannot_check(tmp_path):
    config = AgentConfig(permission_mode="bypassPermissions", disallowed_tools=("Bash(cat:*)",))
    decide = ToolGate(config, tmp_path, [tmp_path]).decide
    reason = decide("Bash", {"command": "sh x.sh"}) or ""
    assert "cannot be checked against the rule Bash(cat:*)" in reason and "script file" in reason, reason
    assert "made at run time" in (decide("Bash", {"command": "$X /etc/hostname"}) or "")
    assert "disallowed" in (decide("Bash", {"command": 'sh -c "cat /etc/hostname"'}) or "")
    assert decide("Bash", {"command": "ls -la"}) is None
    # Without a Bash rule to hold, a line in doubt runs (the sandbox is the boundary).
    assert (
        ToolGate(AgentConfig(permission_mode="bypassPermissions"), tmp_path, [tmp_path]).decide(
            "Bash", {"command": "sh x.sh"}
        )
        is None
    )


PIECES = [*" \t\n;&|()<>'\"\\$`{}*?#=!-/acx0", "$(", "$((", "))", "<<EOF\n", "\nEOF\n", "sh -c ", "eval ", "${", "$'"]


def test_any_line_is_read_without_an_error_and_deep_nesting_is_a_doubt():
    """The hook reads whatever Claude writes: a malformed or hostile line is a doubt, never an error."""
    chance = random.Random(20)
    for _ in range(3000):
        line = "".join(chance.choice(PIECES) for _ in range(chance.randint(0, 40)))
        parse.__wrapped__(line)
        covers("cat:*", line, deny=True)
    for line in ("$(" * 5000, "(" * 5000, "a=(" * 3000, "<(" * 4000, '"$("' * 3000, "sh -c '" * 30):
        assert parse(line).doubt, line
