"""Gateway settings: read from the environment (prefix `GATEWAY_`) and from `.env`.

Every setting is documented in `.env.example`; keep the two in step. `Settings` is here, with its
fields and the values derived from them; beside it, memory.py reads the machine's memory that the
process defaults come from, and checks.py holds the rules a secret and an origin must pass.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..loopback import is_loopback_name
from .checks import MIN_SECRET_KINDS, MIN_SECRET_LENGTH, parse_origins, weak_secret
from .memory import default_max_processes, physical_memory

# Variables in .env that are meant for the Claude Code CLI (credentials, provider, endpoint).
CLI_ENV_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_", "CLAUDE_CONFIG_DIR", "AWS_", "GOOGLE_", "CLOUD_ML_", "VERTEX_")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting's error never quotes its value (a secret, a Redis URL's password).
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # Demo mode (`--demo`): the real Claude Code CLI against a built-in fake Anthropic API on
    # loopback, with canned answers; no Claude credential is used. Loopback only.
    demo: bool = False

    # Comma-separated API keys clients must present (Bearer or x-api-key). Empty: no auth,
    # which is only allowed on a loopback address.
    api_keys: str = ""
    # The key of the admin API (/admin/keys, /admin/usage). Set, the gateway is never keyless.
    # Both secrets below must be strong (weak_secret), or the gateway refuses to start.
    admin_key: str = ""
    # The secret that encrypts stored Claude credentials (any string; a long random one).
    secret_key: str = ""
    # Where keys and the usage ledger live (gateway.db). Empty: the user's data folder.
    data_dir: str | None = None
    # Replicas: a Redis URL (redis://host:6379/0, rediss:// for TLS) that every replica shares.
    # Set, sessions, stored responses, keys, the usage ledger and the limits' counters live there
    # (docs/operations.md, "Scaling out"); unset, they stay in memory and in SQLite under the data folder.
    redis_url: str | None = None
    # Every Redis key the gateway writes starts with this (several gateways can share one Redis).
    redis_prefix: str = Field(default="claude-gateway:", min_length=1, max_length=100)

    # Web pages that may call the gateway from a browser, by exact origin, comma-separated
    # ("https://chat.example.com,http://localhost:3000"). Set, a request with any other Origin
    # header is refused (403), keyed or keyless; the gateway's own console always may. Empty:
    # keyless mode takes pages on any loopback origin, keyed mode any page with a key.
    allowed_origins: str = ""

    # Let callers run their turns with their own Claude credential, sent per request in the
    # X-Claude-Credential header (never stored). Off: such a request gets 403.
    allow_request_credentials: bool = False

    # Extra model names for tools that hard-code OpenAI names: "gpt-4o=sonnet,gpt-4o-mini=haiku".
    model_aliases: str = ""

    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    body_read_timeout: float = Field(default=30.0, gt=0)  # the whole request body must arrive within it
    header_read_timeout: float = Field(default=10.0, gt=0)  # a request's headers, from its first byte
    request_timeout: float = Field(default=600.0, gt=0)  # a whole turn, seconds
    connect_timeout: float = Field(default=60.0, gt=0)  # spawning and initialising the CLI
    retry_after_default: int = Field(default=30, ge=1)  # when Claude's 429 names no time
    # WebSockets one key may hold open on this replica, and the bytes of the response.create
    # messages that may wait on one socket behind its running response (past it: an error event).
    ws_max_sockets_per_key: int = Field(default=16, ge=1)
    ws_max_queued_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)

    # Where the Claude Code CLI comes from: empty means the one bundled with claude-agent-sdk.
    cli_path: str | None = None
    # The CLI's config folder (login, transcripts). Empty: the CLI's own default
    # ($CLAUDE_CONFIG_DIR, else ~/.claude), so `claude login` works as usual.
    claude_config_dir: str | None = None
    # Where each gateway process makes its own private folder (app/core/disk/workdir.py); it must be
    # private to this user. Empty: the system temp folder.
    work_dir: str | None = None
    # How earlier turns reach Claude: "transcript" (real turns via a resumed transcript;
    # falls back to "inline" if the CLI refuses it) or "inline" (one text rendition).
    history_mode: str = "transcript"

    # Refuse (400) requests with parameters Claude Code cannot apply, instead of ignoring them and
    # naming them in X-Gateway-Ignored-Params. Per request: header X-Gateway-Strict: true.
    strict_params: bool = False

    # Conversations (sessions) and warm Claude processes.
    session_ttl: float = Field(default=3600.0, gt=0)  # a session ends after this long unused
    session_busy_wait: float = Field(default=10.0, ge=0)  # a second request on a busy session waits, then 409
    # Sessions one API key may have; past it the key's oldest idle stateless session makes room, else 429.
    max_sessions_per_key: int = Field(default=1000, ge=1)
    # Stored Responses API responses (for GET and previous_response_id), oldest dropped first.
    max_stored_responses: int = Field(default=10_000, ge=1)
    max_stored_response_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    warm_processes: bool = True  # keep conversations' processes connected, and start spares ahead
    max_processes: int = Field(default_factory=lambda: default_max_processes(), ge=1)
    # Memory the Claude processes may take together (RSS, MiB); 0: half the machine's memory.
    memory_budget_mb: int = Field(default=0, ge=0)
    spare_processes: int = Field(default=1, ge=0)  # spares kept per warm option set, at least
    max_spare_processes: int = Field(default=8, ge=0)  # at most, after bursts of new conversations
    warm_option_sets: int = Field(default=4, ge=1)  # how many option sets (model, system, ...) stay warm
    # Close a conversation's idle process after this long (an idle CLI costs ~1% of a core).
    process_idle_timeout: float = Field(default=300.0, gt=0)
    # A one-off conversation's process (a new stateless one: a chat UI's title request, say) goes sooner.
    one_off_idle_timeout: float = Field(default=45.0, gt=0)
    busy_wait: float = Field(default=10.0, ge=0)  # wait for a free process slot, then 429

    # Hosted tools (web_search, web_fetch, mcp: docs/hosted-tools.md) keyless callers and
    # GATEWAY_API_KEYS keys may use, comma-separated (managed keys: their `hosted_tools` policy).
    # Whether hosted tools (web fetch, remote MCP servers) may reach loopback, link-local and private
    # addresses (this host, its network, a cloud's metadata service): off, as such a URL comes from a client.
    allow_private_urls: bool = False
    hosted_tools: str = Field(
        default="web_search,web_fetch,mcp", pattern=r"^\s*((web_search|web_fetch|mcp)\s*(,\s*|$))*$"
    )

    # Agent mode (docs/agent-mode.md): Claude Code's own tools in a sandboxed workspace.
    # For keyless mode and GATEWAY_API_KEYS keys (managed keys have their own policy):
    agent_mode: bool = False
    agent_policy: str = ""  # JSON of an agent policy (caps and defaults), as a key's `agent`
    # The operator's MCP servers requests may name: a JSON file in Claude Code's .mcp.json form.
    # A stdio server starts inside the agent sandbox: its command, interpreter and files must be in
    # its sight (the system folders, /usr/local included, or GATEWAY_AGENT_READ_DIRS).
    mcp_config: str | None = None
    # Remote MCP servers a request names (hosted tools: docs/hosted-tools.md), for keyless mode and
    # GATEWAY_API_KEYS keys: comma-separated URL prefixes; empty: any https URL. Names that resolve to
    # loopback, link-local or private addresses are refused unless GATEWAY_ALLOW_PRIVATE_URLS.
    mcp_urls: str = ""
    # Run agent processes in bubblewrap; off only where the host is itself a throwaway sandbox.
    agent_sandbox: bool = True
    # More folders the agent sandbox shows read-only, comma-separated absolute paths (where the
    # operator's stdio MCP servers and their interpreters live); the gateway's own stay hidden.
    agent_read_dirs: str = ""
    # The agent sandbox's private /tmp, MiB: a tmpfs (memory) of each agent process.
    agent_tmp_mb: int = Field(default=64, ge=1, le=64 * 1024)
    agent_max_pids: int = Field(default=256, ge=8)  # processes one agent process may have at once
    # What one key's session workspaces may hold together, MiB (a key's policy may say otherwise).
    workspace_quota_mb: int = Field(default=100, ge=0)

    # --- Files (POST /v1/files) ---
    # One uploaded file at most, MiB; and what one key's files may take together, MiB.
    file_max_mb: int = Field(default=32, ge=1)
    files_quota_mb: int = Field(default=256, ge=0)

    # --- Batches (docs/api-batches.md) ---
    # Batch requests running at once on this gateway; and they start only while the interactive
    # turns in flight leave a process slot free (interactive traffic comes first).
    batch_concurrency: int = Field(default=1, ge=1)
    # Seconds a batch has from its creation; what has not run by then is expired (Anthropic: 24 h).
    batch_completion_window: float = Field(default=86400.0, gt=0)
    batch_max_requests: int = Field(default=100_000, ge=1)  # requests in one batch (Anthropic's limit)
    # Batches one key may have not ended (both APIs together); one more is refused with 429.
    batch_max_open_per_key: int = Field(default=20, ge=1)

    # --- Operations: drain ---
    # On SIGTERM new turns get 503 (Retry-After) and /health/ready fails; turns in flight get this
    # long (seconds) to finish, then the rest are cut, every Claude process closes and the server exits.
    drain_timeout: float = Field(default=30.0, ge=0)

    # --- Operations: metrics and logs ---
    # A Bearer token that may read GET /metrics (besides the admin key). Without either, /metrics
    # is refused on a keyed gateway, and open to this machine on a keyless one.
    metrics_token: str = ""
    # Label per-key metrics with the key's name (one series per key and model: mind the cardinality).
    metrics_key_label: bool = False
    # "text" (human lines) or "json" (one JSON object a line, for log shippers); both log one line per request.
    log_format: Literal["text", "json"] = "text"

    @field_validator("agent_read_dirs")
    @classmethod
    def _check_agent_read_dirs(cls, value: str) -> str:
        relative = [
            folder.strip() for folder in value.split(",") if folder.strip() and not folder.strip().startswith("/")
        ]
        if relative:
            raise ValueError(f"agent_read_dirs takes absolute paths, not {', '.join(relative)}")
        return value

    @field_validator("admin_key", "secret_key")
    @classmethod
    def _check_strength(cls, value: str, info: ValidationInfo) -> str:
        """The admin key opens every key's data; the secret key guards stored credentials: a
        guessable one is refused at start, naming the variable."""
        if value and weak_secret(value):
            raise ValueError(
                f"GATEWAY_{str(info.field_name).upper()} is too weak: use at least {MIN_SECRET_LENGTH} "
                f"characters, at least {MIN_SECRET_KINDS} of them different (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: str) -> str:
        parse_origins(value)
        return value

    @cached_property
    def allowed_origin_set(self) -> frozenset[str]:
        return parse_origins(self.allowed_origins)

    @field_validator("history_mode")
    @classmethod
    def _check_history_mode(cls, value: str) -> str:
        if value not in {"transcript", "inline"}:
            raise ValueError("history_mode must be 'transcript' or 'inline'")
        return value

    @cached_property
    def agent_read_dir_list(self) -> list[str]:
        return [folder.strip() for folder in self.agent_read_dirs.split(",") if folder.strip()]

    @cached_property
    def hosted_tool_list(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.hosted_tools.split(",") if name.strip())

    @cached_property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def keyed(self) -> bool:
        """Whether callers must present a key: API keys or an admin key (who can create more) are set."""
        return bool(self.api_key_list or self.admin_key)

    @cached_property
    def data_path(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "claude-gateway" / "data"

    @cached_property
    def model_alias_map(self) -> dict[str, str]:
        aliases: dict[str, str] = {}
        for pair in self.model_aliases.split(","):
            if "=" in pair:
                name, target = pair.split("=", 1)
                if name.strip() and target.strip():
                    aliases[name.strip()] = target.strip()
        return aliases

    @cached_property
    def cli_env(self) -> dict[str, str]:
        """Claude variables from .env, handed to every CLI process (the real environment wins)."""
        env_file = self.model_config.get("env_file")
        if self.demo:  # the operator's credentials stay out of demo mode (app/demo/mode.py)
            return {}
        if not env_file or not Path(str(env_file)).is_file():
            return {}
        values = dotenv_values(str(env_file))
        return {
            key: value
            for key, value in values.items()
            if value and key.startswith(CLI_ENV_PREFIXES) and key not in os.environ
        }

    @cached_property
    def config_dir(self) -> Path:
        if self.demo:  # never the operator's login
            return self.data_path / "demo-claude"
        if self.claude_config_dir:
            return Path(self.claude_config_dir).expanduser()
        configured = os.environ.get("CLAUDE_CONFIG_DIR") or self.cli_env.get("CLAUDE_CONFIG_DIR")
        if configured:
            return Path(configured).expanduser()
        return Path.home() / ".claude"

    @cached_property
    def memory_budget(self) -> int:
        """Bytes the Claude processes may take together."""
        if self.memory_budget_mb:
            return self.memory_budget_mb * 1024 * 1024
        total = physical_memory()
        return int(total * 0.5) if total else 8 * 1024 * 1024 * 1024

    def check_bind(self) -> None:
        """Refuse to listen beyond loopback without an API key, and in demo mode at all (loopback
        as app/core/loopback.py says)."""
        if self.demo and not is_loopback_name(self.host):
            raise SystemExit(
                f"Refusing to bind {self.host} in demo mode: the demo serves this machine only; bind 127.0.0.1 "
                "(or leave out --demo and GATEWAY_DEMO)."
            )
        if not is_loopback_name(self.host) and not self.keyed:
            raise SystemExit(
                f"Refusing to bind {self.host}: set GATEWAY_API_KEYS or GATEWAY_ADMIN_KEY first, or bind 127.0.0.1."
            )
