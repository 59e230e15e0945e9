"""A minimal MCP server (stdio, newline-delimited JSON-RPC) that leaves a trace when started.

It appends a line to the file named by $PROBE_MARKER as soon as it runs, and offers one tool,
`host_probe_tool`, so a test can tell whether Claude Code started it and showed its tools to the
model. Stdlib only.
"""

import json
import os
import sys


def main() -> None:
    with open(os.environ["PROBE_MARKER"], "a", encoding="utf-8") as marker:
        marker.write(f"started in {os.getcwd()}\n")
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("id") is None:
            continue  # a notification
        if message.get("method") == "initialize":
            result = {
                "protocolVersion": message.get("params", {}).get("protocolVersion", "2024-11-05"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "probe", "version": "1.0"},
            }
        elif message.get("method") == "tools/list":
            result = {
                "tools": [
                    {
                        "name": "host_probe_tool",
                        "description": "A probe.",
                        "inputSchema": {"type": "object", "properties": {}},
                    }
                ]
            }
        else:
            result = {}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
