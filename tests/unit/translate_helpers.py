"""What the translator tests share: a small PNG and the text block."""

from __future__ import annotations

import base64

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def text(s):
    return {"type": "text", "text": s}
