"""Claude Gateway from the official Anthropic Python client (`pip install anthropic`).

    python examples/anthropic_python.py

Shows a plain message, a streamed one, a conversation the gateway keeps (the client names its
session in the `X-Session-Id` header and sends only the new message each turn) and a token count.

Environment:
    GATEWAY_URL      the gateway's base URL; a trailing /v1 is dropped, since the Anthropic
                     client adds it itself (default http://127.0.0.1:8000)
    GATEWAY_API_KEY  a key from GATEWAY_API_KEYS; any string if the gateway has no keys
                     (default "not-needed")
    GATEWAY_MODEL    sonnet, opus, haiku, a claude-... id or a configured alias (default sonnet)
"""

from __future__ import annotations

import os
import uuid

import anthropic

base_url = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
client = anthropic.Anthropic(
    base_url=base_url.removesuffix("/v1"),
    api_key=os.environ.get("GATEWAY_API_KEY", "not-needed"),
)
MODEL = os.environ.get("GATEWAY_MODEL", "sonnet")


def plain() -> None:
    print("== message ==")
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        system="You are terse.",
        messages=[{"role": "user", "content": "Name three primary colours."}],
    )
    print("".join(block.text for block in message.content if block.type == "text"))
    print(f"stop_reason={message.stop_reason} usage={message.usage}")


def streamed() -> None:
    print("\n== streaming ==")
    with client.messages.stream(
        model=MODEL, max_tokens=300, messages=[{"role": "user", "content": "Count from 1 to 5."}]
    ) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)
    print()


def kept_conversation() -> None:
    print("\n== a conversation the gateway keeps ==")
    # The gateway keeps the session's history: each turn sends only its new message.
    session = {"X-Session-Id": f"example-{uuid.uuid4().hex[:8]}"}
    for question in ["My name is Ada. Remember it.", "What is my name?"]:
        message = client.messages.create(
            model=MODEL,
            max_tokens=300,
            messages=[{"role": "user", "content": question}],
            extra_headers=session,
        )
        answer = "".join(block.text for block in message.content if block.type == "text")
        print(f"user: {question}\nassistant: {answer}")


def counted() -> None:
    print("\n== count_tokens ==")
    count = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "How long is this?"}])
    print(f"input_tokens={count.input_tokens}")


if __name__ == "__main__":
    plain()
    streamed()
    kept_conversation()
    counted()
