"""The one place the gateway reaches into the Claude Agent SDK's private parts, and why.

- The bundled CLI's version. Transcripts the gateway writes carry, like the CLI's own, the version
  of the CLI that will resume them. The SDK exports no public name for it, and the CLI reports its
  version only once a process has started (its initialize answer), while a transcript may be
  written before any process has. If the SDK moves it, this import fails at start-up, loudly.
"""

from __future__ import annotations

import os
from pathlib import Path

from claude_agent_sdk._cli_version import __cli_version__

BUNDLED_CLI_VERSION: str = __cli_version__


def bundled_cli() -> str | None:
    """The Claude Code CLI that the SDK's wheel bundles, if it is there.

    The SDK finds it itself when no `cli_path` is given; the gateway names it because it starts
    the CLI through a launcher of its own (engine/wrapper_script.py). The SDK exports no public way to ask
    where it is: this is where its transport looks (`_bundled/claude`, next to the package).
    """
    import claude_agent_sdk

    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / ("claude.exe" if os.name == "nt" else "claude")
    return str(path) if path.is_file() else None
