"""The gateway's log lines: text for people, or one JSON object a line (GATEWAY_LOG_FORMAT=json)
for log shippers, with the standard `logging` module.

A record's `fields` (the request line's, requests.py) become keys of its JSON object (key=value
pairs after a text line); an exception's traceback goes under "exception". Every logger (the
gateway's, uvicorn's) writes through the root logger's one handler, so all their lines are
JSON in a JSON log.

A line is one record, whatever a client sent: a request path with `%0A` once forged a whole
`POST /admin/keys 201` line in the text format. The text format escapes control characters (and
the Unicode line breaks) in the message and in every field, and quotes a field's value that holds
a space, a quote or `=`; the JSON format escapes the line breaks json.dumps leaves (U+2028, U+2029,
U+0085, which other readers split at).

No secret reaches the log at any level: the libraries that print what crosses the wire at DEBUG
(websockets, which uvicorn's socket protocol runs under the `uvicorn.error` logger, printed a
handshake's `authorization` and `x-claude-credential` headers and the start of every message;
hpack, h2, httpcore) are kept at INFO, their records below it dropped by the handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import websockets

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers that print headers or bodies at DEBUG; their records below INFO are never written.
WIRE_LOGGERS = ("websockets", "hpack", "h2", "httpcore")
WIRE_CODE = (str(Path(websockets.__file__).parent),)  # logs under the logger it is given (uvicorn's)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}  # those json.dumps keeps
NEEDS_QUOTES = re.compile(r'[\s"=]')


def escaped(text: str) -> str:
    """`text` with each control character (and U+2028, U+2029) as a visible escape: one line."""
    return CONTROL.sub(lambda found: json.dumps(found.group())[1:-1], text)  # \n, \u2028, ...


def shown(value: object) -> str:
    """A field's value in a text line: escaped, and quoted (as JSON) if it holds a space, a quote
    or `=`, so that it cannot pass for more fields."""
    text = str(value)
    if NEEDS_QUOTES.search(text):
        return escaped(json.dumps(text, ensure_ascii=False))
    return escaped(text)


class WireFilter(logging.Filter):
    """Drops the DEBUG records of the code that prints what crosses the wire (see above)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        return not (record.name.startswith(WIRE_LOGGERS) or record.pathname.startswith(WIRE_CODE))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({key: value for key, value in fields.items() if key not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        text = json.dumps(line, default=str, ensure_ascii=False)
        for char, escape in LINE_BREAKS.items():
            text = text.replace(char, escape)  # only ever inside a JSON string: its escape is the same text
        return text


class TextFormatter(logging.Formatter):
    """The standard text line, then a record's `fields` that are set, as key=value (but those
    the message already says: a request line's method, path and status); the message and the
    values escaped; each line of a traceback set off by `  | `, so that an exception's message
    (which may quote a client's text) cannot begin a line of its own."""

    IN_MESSAGE = ("method", "path", "status")

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return _set_off(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return _set_off(super().formatStack(stack_info))

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(record.__dict__)  # other handlers see the record as it was
        safe.msg, safe.args = escaped(record.getMessage()), None
        line = super().format(safe)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            pairs = " ".join(
                f"{escaped(str(key))}={shown(value)}"
                for key, value in fields.items()
                if value is not None and key not in self.IN_MESSAGE
            )
            line = f"{line} {pairs}" if pairs else line
        return line


def _set_off(text: str) -> str:
    return "\n".join("  | " + escaped(line) for line in text.splitlines())


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str, level: str, stream: IO[str] | None = None) -> logging.Handler:
    """One handler on the root logger, in `log_format`, at `level`; uvicorn's loggers hand their
    records to it (start uvicorn with log_config=None and access_log=False: the request line is ours)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(WireFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    for name in WIRE_LOGGERS:
        wire = logging.getLogger(name)
        wire.setLevel(max(wire.getEffectiveLevel(), logging.INFO))
    return handler
