"""Agent mode: upload a file into a session's workspace, ask Claude Code to change it, download it.

    python examples/agent_files.py

Needs a gateway with agent mode on for your key (GATEWAY_AGENT_MODE=true for keyless mode and
GATEWAY_API_KEYS keys, or a managed key with `"agent_mode": true`) and bubblewrap on its host.

Environment:
    GATEWAY_URL      base URL including /v1   (default http://127.0.0.1:8000/v1)
    GATEWAY_API_KEY  your key; any string if the gateway has no keys (default "not-needed")
    GATEWAY_MODEL    default sonnet
    AGENT_PROMPT     what to ask (default: fix the spelling in greeting.txt)
"""

from __future__ import annotations

import os
import uuid

import httpx
from openai import OpenAI

base = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000/v1").rstrip("/")
key = os.environ.get("GATEWAY_API_KEY", "not-needed")
session = f"agent-example-{uuid.uuid4().hex[:8]}"
http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300)

# 1. The file goes into the session's workspace (the session starts with it).
http.put(f"/sessions/{session}/files/greeting.txt", content=b"Helo wrld, from the agent example.\n").raise_for_status()

# 2. Claude Code works on it with its own tools; the session id keeps the same workspace.
client = OpenAI(base_url=base, api_key=key)
reply = client.chat.completions.create(
    model=os.environ.get("GATEWAY_MODEL", "sonnet"),
    messages=[
        {"role": "user", "content": os.environ.get("AGENT_PROMPT", "Fix the spelling mistakes in greeting.txt.")}
    ],
    extra_body={"session_id": session, "claude_code": {"permission_mode": "acceptEdits", "max_turns": 10}},
)
message = reply.choices[0].message
print("Tool activity:")
for event in getattr(message, "claude_code_events", None) or []:
    print(" ", event["type"], event.get("name", ""), event.get("input") or event.get("output", "")[:80])
print("Claude:", message.content)

# 3. What it made of the file, and what else is in the workspace.
print("greeting.txt now:", http.get(f"/sessions/{session}/files/greeting.txt").text, end="")
print("files:", [(f["path"], f["size"]) for f in http.get(f"/sessions/{session}/files").json()["data"]])
http.delete(f"/sessions/{session}")
