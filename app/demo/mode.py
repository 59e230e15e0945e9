"""Entering demo mode: the demo upstream, and the gateway process's environment emptied of the
operator's Claude credentials and pointed at that upstream (the `X-Gateway-Demo` header on every
answer: app/http/middleware/demo_header.py).

The environment is the process's own (os.environ) because every Claude Code process, the token
counter and /v1/auth/status read it: emptied once here, no real credential (an API key, a token,
a Bedrock or Vertex switch, a `claude login` through CLAUDE_CONFIG_DIR) can reach any of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from pathlib import Path

from ..core.credentials import is_operator_credential
from ..core.disk.workdir import private_folder
from ..core.settings import CLI_ENV_PREFIXES
from .upstream import API_KEY, DemoUpstream, offline_env

log = logging.getLogger(__name__)


def enter_demo(config_dir: Path, environ: MutableMapping[str, str] = os.environ) -> DemoUpstream:
    """Drop the operator's Claude variables from `environ`, point it at a new demo upstream (not
    serving yet: start() it) and at `config_dir` (the demo's own, Settings.config_dir), and return
    that upstream."""
    dropped = sorted(name for name in environ if name.startswith(CLI_ENV_PREFIXES) or is_operator_credential(name))
    for name in dropped:
        del environ[name]
    private_folder(config_dir)
    upstream = DemoUpstream()
    environ.update(offline_env(upstream.url, API_KEY, str(config_dir)))
    log.warning(
        "Demo mode: Claude Code talks to a built-in fake Anthropic API on %s; answers are canned ([demo] ...)%s.",
        upstream.url,
        f"; ignoring {', '.join(dropped)}" if dropped else "",
    )
    return upstream
