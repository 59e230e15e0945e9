"""The one place the gateway reaches into the Claude Agent SDK's private modules, and why.

- The bundled CLI's version. Transcripts the gateway writes carry, like the CLI's own, the version
  of the CLI that will resume them. The SDK exports no public name for it, and the CLI reports its
  version only once a process has started (its initialize answer), while a transcript may be
  written before any process has. If the SDK moves it, this import fails at start-up, loudly.
"""

from __future__ import annotations

from claude_agent_sdk._cli_version import __cli_version__

BUNDLED_CLI_VERSION: str = __cli_version__
