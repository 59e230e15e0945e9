"""The gateway's log lines: text for people, or one JSON object a line (GATEWAY_LOG_FORMAT=json)
for log shippers, with the standard `logging` module.

A record's `fields` (the request line's, requests.py) become keys of its JSON object (key=value
pairs after a text line); an exception's traceback goes under "exception". Every logger (the
gateway's, uvicorn's) writes through the root logger's one handler, so all their lines are
JSON in a JSON log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import IO, Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The standard text line, then a record's `fields` that are set, as key=value (but those
    the message already says: a request line's method, path and status)."""

    IN_MESSAGE = ("method", "path", "status")

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            shown = " ".join(
                f"{key}={value}" for key, value in fields.items() if value is not None and key not in self.IN_MESSAGE
            )
            line = f"{line} {shown}" if shown else line
        return line


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str, level: str, stream: IO[str] | None = None) -> logging.Handler:
    """One handler on the root logger, in `log_format`, at `level`; uvicorn's loggers hand their
    records to it (start uvicorn with log_config=None and access_log=False: the request line is ours)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    return handler
