"""Claude Gateway from the official OpenAI Python client (`pip install openai`).

    python examples/openai_python.py [IMAGE]

Shows a plain request, a streamed one, a multi-turn conversation (the client resends the
history each turn, as with OpenAI) and an image sent as a base64 data: URL. IMAGE is an
optional .png/.jpg/.gif/.webp file; without it a small red square is generated.

Environment:
    GATEWAY_URL      base URL including /v1   (default http://127.0.0.1:8000/v1)
    GATEWAY_API_KEY  a key from GATEWAY_API_KEYS; any string if the gateway has no keys
                     (default "not-needed")
    GATEWAY_MODEL    sonnet, opus, haiku, a claude-... id or a configured alias (default sonnet)
"""

from __future__ import annotations

import base64
import mimetypes
import os
import struct
import sys
import zlib

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000/v1"),
    api_key=os.environ.get("GATEWAY_API_KEY", "not-needed"),
)
MODEL = os.environ.get("GATEWAY_MODEL", "sonnet")


def non_streaming() -> None:
    print("== non-streaming ==")
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name three primary colours."},
        ],
    )
    message = response.choices[0].message
    # When Claude thinks, the thinking comes as `reasoning_content` (not in OpenAI's own schema,
    # so read it with getattr).
    reasoning = getattr(message, "reasoning_content", None)
    if reasoning:
        print(f"[thinking] {reasoning}")
    print(message.content)
    print(f"finish_reason={response.choices[0].finish_reason} usage={response.usage}")


def streaming() -> None:
    print("\n== streaming ==")
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count from 1 to 5."}],
        stream=True,
        stream_options={"include_usage": True},  # a last chunk with usage and no choices
    )
    thinking = False  # inside Claude's thinking, which streams before the answer
    for chunk in stream:
        if chunk.usage:
            print(f"\nusage={chunk.usage}")
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning = getattr(delta, "reasoning_content", None)
        if reasoning:
            print(reasoning if thinking else f"[thinking] {reasoning}", end="", flush=True)
            thinking = True
        if delta.content:
            if thinking:
                print()
                thinking = False
            print(delta.content, end="", flush=True)
        if chunk.choices[0].finish_reason:
            print(f"\nfinish_reason={chunk.choices[0].finish_reason}", end="")
    print()


def multi_turn() -> None:
    print("\n== multi-turn ==")
    # The gateway is stateless like OpenAI: send the whole conversation every time.
    history = [{"role": "system", "content": "You are a helpful assistant."}]
    for question in ["My name is Ada. Remember it.", "What is my name?"]:
        history.append({"role": "user", "content": question})
        response = client.chat.completions.create(model=MODEL, messages=history)
        answer = response.choices[0].message.content or ""
        history.append({"role": "assistant", "content": answer})
        print(f"user: {question}\nassistant: {answer}")


def red_square_png(size: int = 16) -> bytes:
    """A small solid-red PNG, built with the standard library only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def image(path: str | None) -> None:
    print("\n== image (data: URL) ==")
    if path:
        media_type = mimetypes.guess_type(path)[0] or "image/png"
        with open(path, "rb") as f:
            data = f.read()
    else:
        media_type, data = "image/png", red_square_png()
    data_url = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this image? One word."},
                    # http(s) URLs work too: {"url": "https://example.com/cat.jpg"}
                    {"type": "image_url", "image_url": {"url": data_url}},
                ],
            }
        ],
    )
    print(response.choices[0].message.content)


if __name__ == "__main__":
    non_streaming()
    streaming()
    multi_turn()
    image(sys.argv[1] if len(sys.argv) > 1 else None)
