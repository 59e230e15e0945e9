"""Start Claude Gateway: `python main.py [--host H] [--port P] [--demo]`.

Settings also come from the environment (GATEWAY_*) and `.env`; see `.env.example`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from app.core.disk.workdir import UnsafeWorkDir, check_root
from app.core.settings import Settings
from app.core.undumpable import close_own_proc
from app.http.app import create_app
from app.http.header_deadline import protocol
from app.http.server import DrainingServer
from app.observability import logs


def settings_problems(exc: ValidationError) -> str:
    """Each bad setting as `GATEWAY_NAME: why` (the variable the operator sets, not the field)."""
    problems = []
    for error in exc.errors():
        variable = "GATEWAY_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(message if message.startswith(variable) else f"{variable}: {message}")
    return "; ".join(problems)


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible gateway to Claude through Claude Code.")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1, or GATEWAY_HOST)")
    parser.add_argument("--port", type=int, help="port (default 8000, or GATEWAY_PORT)")
    parser.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="demo mode: canned answers from a built-in fake Anthropic API, no Claude account (or GATEWAY_DEMO)",
    )
    args = parser.parse_args()
    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "demo": args.demo}.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:  # a bad setting: say which, without a traceback
        raise SystemExit(f"Refusing to start: {settings_problems(exc)}") from None
    settings.check_bind()
    logs.configure(settings.log_format, settings.log_level)
    close_own_proc()  # no process of the gateway's user reads its environment or folders through /proc
    if settings.work_dir:
        try:
            check_root(Path(settings.work_dir))
        except (UnsafeWorkDir, OSError) as exc:
            raise SystemExit(f"Refusing to start: {exc}") from None
    try:
        app = create_app(settings)
    except (UnsafeWorkDir, OSError) as exc:  # the data and workspaces' folders (GATEWAY_DATA_DIR)
        raise SystemExit(f"Refusing to start: {exc}") from None
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's loggers write through ours (logs.configure), in the chosen format
        access_log=False,  # the gateway logs each request itself, with more to say (observability/requests.py)
        timeout_graceful_shutdown=int(settings.drain_timeout),  # on SIGINT; SIGTERM drains first
        ws_max_size=settings.max_body_bytes,  # a socket's message has a request body's limit (16 MiB by default)
        http=protocol(settings.header_read_timeout),  # uvicorn has no deadline for a request's headers
    )
    DrainingServer(config, app.state.gateway).run()


if __name__ == "__main__":
    main()
