"""A minimal MCP server (stdio, newline-delimited JSON-RPC). Stdlib only.

- With $PROBE_MARKER set, it appends a line to that file as soon as it runs, so a test can tell
  whether Claude Code started it.
- Its tool `host_probe_tool` shows whether Claude Code offered its tools to the model.
- Its tool `lookup(key)` answers a fixed text, followed by what the server's process can see of
  the host: its working folder, the size of /etc/shadow, whether the path in $PROBE_HIDDEN
  exists, and whether a Claude credential is in its environment. Inside the gateway's agent
  sandbox, /etc/shadow is empty and the gateway's data folder is out of sight, so a test can
  tell the server ran inside it. With $PROBE_CANARY set, also whether any process's command line
  in /proc holds that text (`canary=seen`), and how many processes it sees.
"""

import json
import os
import sys

VALUES = {"alpha": "42", "beta": "forty-three"}

TOOLS = [
    {"name": "host_probe_tool", "description": "A probe.", "inputSchema": {"type": "object", "properties": {}}},
    {
        "name": "lookup",
        "description": "Look a key up.",
        "inputSchema": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
    },
]


def where() -> str:
    try:
        shadow = f"{os.path.getsize('/etc/shadow')}B"
    except OSError as exc:
        shadow = type(exc).__name__
    hidden = os.environ.get("PROBE_HIDDEN")
    seen = "unset" if not hidden else "visible" if os.path.exists(hidden) else "absent"
    credential = "set" if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("CLAUDE_CODE_OAUTH_TOKEN") else "unset"
    found = f"cwd={os.getcwd()} shadow={shadow} hidden={seen} credential={credential}"
    canary = os.environ.get("PROBE_CANARY")
    if canary:
        lines = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    lines.append(f.read())
            except OSError:
                continue
        seen = any(canary.encode() in line for line in lines)
        found += f" canary={'seen' if seen else 'unseen'} procs={len(lines)}"
    return found


def call(name: str, arguments: dict) -> dict:
    if name == "lookup":
        key = str(arguments.get("key", ""))
        text = f"lookup({key}) = {VALUES.get(key, 'unknown')} [{where()}]"
    else:
        text = "probed"
    return {"content": [{"type": "text", "text": text}], "isError": False}


def main() -> None:
    if "PROBE_MARKER" in os.environ:
        with open(os.environ["PROBE_MARKER"], "a", encoding="utf-8") as marker:
            marker.write(f"started in {os.getcwd()}\n")
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("id") is None:
            continue  # a notification
        method, params = message.get("method"), message.get("params") or {}
        if method == "initialize":
            result = {
                "protocolVersion": params.get("protocolVersion", "2024-11-05"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "probe", "version": "1.0"},
            }
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "tools/call":
            result = call(str(params.get("name")), params.get("arguments") or {})
        else:
            result = {}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
