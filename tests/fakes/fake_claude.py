#!/usr/bin/env python3
"""A fake `claude` executable speaking the Claude Code CLI's stream-json protocol.

Point `ClaudeAgentOptions(cli_path=...)` at this file. It answers the SDK's `initialize`
control request, then one turn per `user` line on stdin, with the frames the real CLI
(2.1.329, bundled with claude-agent-sdk 0.2.186) emits: `system/init`, `system/status`,
`stream_event` wrappers (only with `--include-partial-messages`), one `assistant` frame per
content block, `result`, and the `session_state_changed` frames the SDK asks for. Frame
shapes, field names and key order were copied from captures of the real CLI talking to
`tests/fakes/upstream.py` (see `tests/fakes/captured_frames/`). Stdlib only, no network.

What a turn does depends on the text of the user message (text blocks joined with a space,
plus ` [image:<media_type or url>]` per image block):

  default                 `echo: <text>`, streamed in 4-character chunks
  [[think]]               a thinking block ("thinking about it") before the text
  [[slow]]                0.1 s before every chunk (interruptible)
  [[max_tokens]]          the echo, ending with stop_reason "max_tokens"
  [[max_tokens_exhausted]] what the real CLI does when every reply hits max_tokens: four
                          attempts joined by its synthetic "Output token limit hit" user
                          message, then a synthetic `max_output_tokens` error result
  [[long N]]              `w0 w1 ... w<N-1>`
  [[turns]]               `turns: N`, N = user turns seen (this process + resumed history)
  [[history]]             `{"history": [[role, text], ...]}`: the conversation before
                          this message (resumed transcript + earlier turns of this process)
  [[system]]              `system: <the system prompt>`
  [[error N]]             the synthetic error turn the real CLI emits for an upstream HTTP N
                          (429, 401, 500, 529, 400; 502/503/504 like 500)
  [[crash]]               `fake claude: simulated crash` on stderr, exit 3, no result
  [[hang]]                system/init, then nothing until an interrupt (interrupted-turn
                          frames) or stdin EOF (exit 0)

Start-up failures mirror the real CLI: `--resume` of an unknown session id emits one
`error_during_execution` result ("No conversation found with session ID: ...") and exits 1;
`--session-id` of a session that already has a transcript prints "Error: Session ID ... is
already in use." on stderr and exits 1 with no output. Neither answers `initialize`.

An `interrupt` control request during a turn ends it the way the real CLI does (partial
`assistant` frame marked `aborted`, a "[Request interrupted by user]" user frame, and a
`result` with subtype `error_during_execution`); the process stays usable.

Environment:
  FAKE_CLAUDE_NO_AUTH=1        behave like the real CLI with no credentials at all
  FAKE_CLAUDE_EXIT_DELAY=S     wait S seconds after stdin EOF before exiting
  FAKE_CLAUDE_DIE_AT_USER_MESSAGE=N  exit 137 at once, silently, when the N-th user message
                               arrives (a CLI killed just as a turn starts)
  FAKE_CLAUDE_LOG=<file>       append {"event":"start",...} per process and
                               {"event":"user",...} per user message received
  FAKE_CLAUDE_ERROR_MESSAGE    the upstream error message used by [[error N]]
                               (default "fake upstream error"; 400 always uses the
                               "Third-party apps now draw from your extra usage..." text)
  CLAUDE_CONFIG_DIR            where transcripts go (default ~/.claude), as for the real CLI
  CLAUDE_CODE_MAX_RETRIES      if > 0, [[error 429/5xx]] first emits that many
                               `system/api_retry` frames (without sleeping)
  ANTHROPIC_BASE_URL           named in the 5xx error text, as the real CLI does
"""

import json
import os
import queue
import re
import sys
import threading
import time

CLI_VERSION = "2.1.329"
DEFAULT_MODEL = "claude-opus-5-5"
TOKEN_LIMIT_TEXT = (
    "Output token limit hit. Resume directly \u2014 no apology, no recap of what you were doing. "
    "Pick up mid-thought if that is where the cut happened. Break remaining work into smaller pieces."
)
INTERRUPTED_TEXT = "[Request interrupted by user]"
EXTRA_USAGE_TEXT = (
    "Third-party apps now draw from your extra usage, not your plan limits. Enable extra usage to continue."
)

_EFFORT = ["low", "medium", "high", "xhigh", "max"]


def _model_entry(value, resolved, display, description, fast=True):
    entry = {
        "value": value,
        "resolvedModel": resolved,
        "displayName": display,
        "description": description,
        "supportsEffort": True,
        "supportedEffortLevels": list(_EFFORT),
        "supportsAdaptiveThinking": True,
    }
    if fast:
        entry["supportsFastMode"] = True
    entry["supportsAutoMode"] = True
    entry["supportsThinkingOff"] = False
    return entry


# The `models` list of the real CLI's initialize response, verbatim.
MODELS = [
    _model_entry(
        "default",
        "claude-opus-5-5",
        "Default (recommended)",
        "Use the default model (currently Opus 5.5) \u00b7 $4/$20 per Mtok",
    ),
    _model_entry(
        "opus", "claude-opus-5-5", "Opus", "Opus 5.5 \u00b7 Best for everyday, complex tasks \u00b7 $4/$20 per Mtok"
    ),
    _model_entry(
        "fable",
        "claude-fable-5-2",
        "Fable",
        "Fable 5.2 \u00b7 Most capable for your hardest and longest-running tasks \u00b7 $8/$40 per Mtok",
    ),
    _model_entry(
        "sonnet",
        "claude-sonnet-5-5",
        "Sonnet",
        "Sonnet 5.5 \u00b7 Efficient for routine tasks \u00b7 $2/$10 per Mtok",
        fast=False,
    ),
    _model_entry(
        "haiku",
        "claude-haiku-5-5",
        "Haiku",
        "Haiku 5.5 \u00b7 Fastest for quick answers \u00b7 $0.10/$0.50 per Mtok ($0.50/$2.50 for prompts over 100k)",
        fast=False,
    ),
]
ALIASES = {m["value"]: m["resolvedModel"] for m in MODELS}

# USD per million tokens: input, output, cache read, cache write. Fitted to the real
# CLI's total_cost_usd for each model.
PRICES = {
    "claude-opus-5-5": (4.0, 20.0, 0.2, 5.0),
    "claude-fable-5-2": (8.0, 40.0, 0.2, 10.0),
    "claude-sonnet-5-5": (2.0, 10.0, 0.1, 2.5),
    "claude-haiku-5-5": (0.1, 0.5, 0.01, 0.125),
}

# Names of the real CLI's slash commands (descriptions trimmed).
COMMANDS = (
    "deep-research dataviz update-config verify debug code-review simplify batch "
    "fewer-permission-prompts doctor loop claude-api workflow-authoring run run-skill-generator "
    "plugin-authoring agents auto-mode-setup autocompact clear color compact config output-style "
    "context effort fast focus heapdump init mcp model __remote-workflow workflow-launch-exec "
    "reload-plugins reload-skills rename security-review usage insights recap goal list-agents "
    "team-onboarding"
).split()
SKILLS = COMMANDS[:16]
AGENTS = ["claude", "Explore", "general-purpose", "Plan", "statusline-setup"]
PLUGINS = [
    {"name": "cc-plugin-agents-md", "path": "builtin", "source": "cc-plugin-agents-md@builtin"},
    {"name": "cc-plugin-privacy", "path": "builtin", "source": "cc-plugin-privacy@builtin"},
    {"name": "cc-plugin-plugin-authoring", "path": "builtin", "source": "cc-plugin-plugin-authoring@builtin"},
]
SUBAGENT_STATS = {
    "spawned": 0,
    "requested": {"background": 0, "foreground": 0, "unset": 0},
    "started_in_background": 0,
    "max_depth": 0,
    "spawned_by_subagents": 0,
    "completed": 0,
    "failed": 0,
    "killed": {"parent": 0, "user": 0, "system": 0},
    "refused": {"depth_limit": 0, "concurrency_limit": 0, "budget": 0},
    "by_type": {},
}

# Options the CLI takes with a value (as the SDK passes them); anything else is a switch.
VALUE_OPTIONS = {
    "--output-format",
    "--input-format",
    "--system-prompt",
    "--system-prompt-file",
    "--append-system-prompt",
    "--tools",
    "--allowedTools",
    "--disallowedTools",
    "--max-turns",
    "--max-budget-usd",
    "--task-budget",
    "--model",
    "--fallback-model",
    "--betas",
    "--permission-prompt-tool",
    "--permission-mode",
    "--resume",
    "--session-id",
    "--settings",
    "--add-dir",
    "--mcp-config",
    "--resume-session-at",
    "--resume-drops-turn",
    "--setting-sources",
    "--plugin-dir",
    "--thinking",
    "--max-thinking-tokens",
    "--thinking-display",
    "--effort",
    "--json-schema",
}

EOF = object()


def new_uuid():
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_msg_id():
    return "msg_" + os.urandom(12).hex()


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def ms_since(t0):
    return int((time.monotonic() - t0) * 1000)


def _simple_hash(s):
    """The CLI's 32-bit string hash in base 36 (for over-long project directory names)."""
    h = 0
    for ch in s:
        h = ((h << 5) - h + ord(ch)) & 0xFFFFFFFF
    if h >= 0x80000000:
        h -= 0x100000000
    h = abs(h)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while h:
        out = digits[h % 36] + out
        h //= 36
    return out or "0"


def project_dir_name(path):
    sanitized = re.sub(r"[^a-zA-Z0-9]", "-", path)
    if len(sanitized) <= 200:
        return sanitized
    return f"{sanitized[:200]}-{_simple_hash(path)}"


def chunks(text, size=4):
    return [text[i : i + size] for i in range(0, len(text), size)]


def parse_args(argv):
    opts = {}
    multi = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-"):
            continue
        if "=" in arg and arg.startswith("--"):
            name, value = arg.split("=", 1)
        elif arg in VALUE_OPTIONS:
            value = argv[i] if i < len(argv) else ""
            name = arg
            i += 1
        else:
            name, value = arg, True
        opts[name] = value
        multi.setdefault(name, []).append(value)
    return opts, multi


def prompt_text(content):
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    text = " ".join(texts)
    for block in content:
        if isinstance(block, dict) and block.get("type") == "image":
            source = block.get("source") or {}
            text += f" [image:{source.get('media_type') or source.get('url') or ''}]"
    return text if texts else text.lstrip()


def block_text(content):
    """Text of a transcript message (text blocks only), for [[history]]."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def message_usage(output_tokens=1):
    return {
        "input_tokens": 10,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": 3,
        "cache_creation_input_tokens": 2,
    }


def full_usage(inp=0, out=0, cache_read=0, cache_creation=0, error_shape=False):
    usage = {
        "input_tokens": inp,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "output_tokens": out,
        "output_tokens_details": {"thinking_tokens": 0},
    }
    if error_shape:  # results of turns that used nothing list output_tokens_details first
        usage = {
            "output_tokens_details": {"thinking_tokens": 0},
            **{k: v for k, v in usage.items() if k != "output_tokens_details"},
        }
    usage.update(
        {
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "inference_geo": "",
            "iterations": [],
            "speed": "standard",
            "fallback_credit": None,
        }
    )
    return usage


SYNTHETIC_USAGE = {
    "output_tokens_details": None,
    "input_tokens": 0,
    "output_tokens": 0,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
    "service_tier": None,
    "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
    "inference_geo": None,
    "iterations": None,
    "speed": None,
    "fallback_credit": None,
}


class Interrupted(Exception):
    pass


class FakeClaude:
    def __init__(self, argv, env):
        self.t_start = time.monotonic()
        self.argv = argv
        self.env = env
        self.opts, self.multi = parse_args(argv[1:])
        self.partial = bool(self.opts.get("--include-partial-messages"))
        self.report_state = env.get("CLAUDE_CODE_SDK_READS_SESSION_STATE") == "1"
        self.no_auth = env.get("FAKE_CLAUDE_NO_AUTH") == "1"
        self.exit_delay = float(env.get("FAKE_CLAUDE_EXIT_DELAY") or 0)
        self.die_at = int(env.get("FAKE_CLAUDE_DIE_AT_USER_MESSAGE") or 0)
        self.user_messages = 0
        self.cwd = os.getcwd()
        self.config_dir = env.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
        self.project_dir = os.path.join(self.config_dir, "projects", project_dir_name(self.cwd))
        self.model = self.resolve_model(self.opts.get("--model") or "default")
        self.permission_mode = self.opts.get("--permission-mode") or "default"
        self.system_prompt = self.read_system_prompt()
        tools = self.opts.get("--tools")
        self.tools = [t for t in tools.split(",") if t] if isinstance(tools, str) else []
        self.log_path = env.get("FAKE_CLAUDE_LOG")
        self.inq = queue.Queue()
        self.pending = []  # stdin items read during a turn, handled after it
        self.eof = False
        self.interrupt_requested = False
        self.out_lock = threading.Lock()
        self.stdout = sys.stdout.buffer
        # conversation state
        self.history = []  # [role, text] of the conversation so far
        self.user_turns = 0
        self.last_uuid = None
        self.last_result_error = False
        self.result_index = 0
        self.total_cost = 0.0
        self.model_usage = {}  # model -> cumulative counters
        self.turns_done = 0
        self.resume_missing = None
        self.session_in_use = None
        self.current = None  # the model message being streamed, for interrupts
        self.session_id = None
        self.transcript = None
        self.setup_session()

    # ---- configuration ----------------------------------------------------------------
    @staticmethod
    def resolve_model(name):
        return ALIASES.get(name, name)

    def read_system_prompt(self):
        if "--system-prompt" in self.opts:
            return self.opts["--system-prompt"] or ""
        path = self.opts.get("--system-prompt-file")
        if isinstance(path, str):
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read()
            except OSError:
                return ""
        append = self.opts.get("--append-system-prompt")
        return append if isinstance(append, str) else ""

    def setup_session(self):
        resume = self.opts.get("--resume")
        if isinstance(resume, str) and resume:
            path = self.find_transcript(resume)
            if path is None:
                self.resume_missing = resume
                self.session_id = resume
                return
            self.load_history(path)
            if self.opts.get("--fork-session"):
                self.session_id = self.opts.get("--session-id") or new_uuid()
                self.transcript = os.path.join(self.project_dir, f"{self.session_id}.jsonl")
                self.copy_transcript(path)
            else:
                self.session_id = resume
                self.transcript = path
            return
        if self.opts.get("--continue"):
            latest = self.latest_transcript()
            if latest:
                self.load_history(latest)
                self.session_id = os.path.basename(latest)[: -len(".jsonl")]
                self.transcript = latest
                return
        sid = self.opts.get("--session-id")
        self.session_id = sid if isinstance(sid, str) and sid else new_uuid()
        self.transcript = os.path.join(self.project_dir, f"{self.session_id}.jsonl")
        if isinstance(sid, str) and sid and os.path.isfile(self.transcript):
            self.session_in_use = sid

    def find_transcript(self, session_id):
        projects = os.path.join(self.config_dir, "projects")
        own = os.path.join(self.project_dir, f"{session_id}.jsonl")
        if os.path.isfile(own):
            return own
        try:
            names = sorted(os.listdir(projects))
        except OSError:
            return None
        for name in names:
            candidate = os.path.join(projects, name, f"{session_id}.jsonl")
            if os.path.isfile(candidate):
                return candidate
        return None

    def latest_transcript(self):
        try:
            files = [os.path.join(self.project_dir, n) for n in os.listdir(self.project_dir) if n.endswith(".jsonl")]
        except OSError:
            return None
        return max(files, key=os.path.getmtime) if files else None

    def read_transcript(self, path):
        entries = []
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict):
                        entries.append(entry)
        except OSError:
            pass
        return entries

    def load_history(self, path):
        for entry in self.read_transcript(path):
            kind = entry.get("type")
            if kind not in ("user", "assistant"):
                continue
            if entry.get("uuid"):
                self.last_uuid = entry["uuid"]
            if entry.get("isSidechain") or entry.get("isMeta") or entry.get("isSynthetic"):
                continue
            if entry.get("isApiErrorMessage"):
                continue
            message = entry.get("message") or {}
            text = block_text(message.get("content"))
            if not text or text == INTERRUPTED_TEXT:
                continue
            self.history.append([kind, text])
            if kind == "user":
                self.user_turns += 1

    def copy_transcript(self, path):
        os.makedirs(self.project_dir, exist_ok=True)
        with open(self.transcript, "a", encoding="utf-8") as f:
            for entry in self.read_transcript(path):
                if "sessionId" in entry:
                    entry["sessionId"] = self.session_id
                f.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")

    # ---- output -------------------------------------------------------------------------
    def emit(self, frame):
        data = (json.dumps(frame, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self.out_lock:
            try:
                self.stdout.write(data)
                self.stdout.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.exit(0)

    def exit(self, code):
        try:
            sys.stdout.flush()
        except Exception:
            pass
        try:
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)

    def log(self, record):
        if not self.log_path:
            return
        try:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            pass

    def write_transcript(self, kind, message, uuid, **extra):
        entry = {
            "parentUuid": self.last_uuid,
            "isSidechain": False,
            "type": kind,
            "message": message,
            "uuid": uuid,
            "timestamp": now_iso(),
        }
        entry.update(extra)
        entry.update(
            {
                "userType": "external",
                "entrypoint": self.env.get("CLAUDE_CODE_ENTRYPOINT", "cli"),
                "cwd": self.cwd,
                "sessionId": self.session_id,
                "version": CLI_VERSION,
            }
        )
        self.last_uuid = uuid
        try:
            os.makedirs(os.path.dirname(self.transcript), exist_ok=True)
            with open(self.transcript, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        except OSError:
            pass

    # ---- frames -------------------------------------------------------------------------
    def state_frame(self, state):
        if self.report_state:
            self.emit(
                {
                    "type": "system",
                    "subtype": "session_state_changed",
                    "state": state,
                    "sdk_host_only": True,
                    "uuid": new_uuid(),
                    "session_id": self.session_id,
                }
            )

    def api_key_source(self):
        if self.no_auth or not self.env.get("ANTHROPIC_API_KEY"):
            return "none"
        return "ANTHROPIC_API_KEY"

    def init_frame(self):
        return {
            "type": "system",
            "subtype": "init",
            "cwd": self.cwd,
            "session_id": self.session_id,
            "tools": list(self.tools),
            "mcp_servers": [],
            "model": self.model,
            "permissionMode": self.permission_mode,
            "slash_commands": list(COMMANDS),
            "terminal_slash_commands": ["doctor", "color", "focus", "reload-plugins"],
            "apiKeySource": self.api_key_source(),
            "claude_code_version": CLI_VERSION,
            "output_style": "default",
            "agents": list(AGENTS),
            "skills": list(SKILLS),
            "plugins": [dict(p) for p in PLUGINS],
            "capabilities": ["interrupt_receipt_v1", "interrupt_cancel_queued_v1", "msg_lifecycle_v1"],
            "analytics_disabled": True,
            "product_feedback_disabled": True,
            "served_by_anthropic": False,
            "uuid": new_uuid(),
            "memory_paths": {"auto": os.path.join(self.project_dir, "memory") + "/"},
            "original_cwd": self.cwd,
            "additional_directories": [d for d in self.multi.get("--add-dir", []) if isinstance(d, str)],
            "messaging_socket_path": f"/tmp/cc-socks/{os.getpid()}.sock",  # never created
            "fast_mode_state": "off",
            "fast_mode_disabled_reason": "sdk_opt_in_required",
            "per_turn_effort_active": True,
            "ultrathink_available": False,
            "ultrathink_typed_raises": False,
            "view_mode": "default",
        }

    def initialize_response(self):
        account = {"tokenSource": "none"}
        if self.api_key_source() != "none":
            account["apiKeySource"] = self.api_key_source()
        account["apiProvider"] = "firstParty"
        return {
            "commands": [{"name": n, "description": f"/{n}", "argumentHint": "", "builtin": True} for n in COMMANDS],
            "agents": [{"name": n, "description": f"The {n} agent."} for n in AGENTS],
            "output_style": "default",
            "available_output_styles": ["default", "Proactive", "Concise", "Explanatory", "Learning"],
            "user_output_styles_dir": os.path.join(self.config_dir, "output-styles"),
            "models": [dict(m) for m in MODELS],
            "account": account,
            "pid": os.getpid(),
            "claude_code_version": CLI_VERSION,
            "current_permission_mode": self.permission_mode,
            "hook_on_failure_supported": True,
            "hooks_when_unanswered_kept": 0,
            "other_hook_ask_outranks_host": True,
            "feedback_mode": {"kind": "disabled"},
            "analytics_disabled": True,
            "remote_control_auto_enable": False,
            "remote_control_auto_connect_default": False,
            "remote_control_available": False,
            "remote_control_auto_on_by_default": False,
            "ide_rc_auto_enable_gate": False,
            "fast_mode_state": "off",
            "fast_mode_disabled_reason": "sdk_opt_in_required",
            "session_state": "idle",
            "capabilities": ["ui_surface_v1", "get_usage_detached_v1"],
        }

    def stream(self, event, msg_id, thinking=False, ttft_ms=None, abandoned_blocks=None):
        frame = {
            "type": "stream_event",
            "event": event,
            "session_id": self.session_id,
            "parent_tool_use_id": None,
            "uuid": new_uuid(),
        }
        if ttft_ms is not None:
            frame["ttft_ms"] = ttft_ms
        if thinking:
            frame["thinking_display"] = "updates"
        frame["api_message_id"] = msg_id
        if abandoned_blocks is not None:
            frame["abandoned_blocks"] = abandoned_blocks
        self.emit(frame)

    def assistant_frame(self, msg_id, block, uuid, **extra):
        frame = {
            "type": "assistant",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [block],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": message_usage(),
                "context_management": None,
            },
            "parent_tool_use_id": None,
            "session_id": self.session_id,
            "uuid": uuid,
            "timestamp": now_iso(),
        }
        frame.update(extra)
        self.emit(frame)
        return frame

    def synthetic_error(self, text, error, **extra):
        uuid = new_uuid()
        message = {
            "diagnostics": None,
            "id": new_uuid(),
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_details": None,
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": dict(SYNTHETIC_USAGE),
            "content": [{"type": "text", "text": text}],
            "context_management": None,
        }
        frame = {
            "type": "assistant",
            "message": message,
            "parent_tool_use_id": None,
            "session_id": self.session_id,
            "uuid": uuid,
            "timestamp": now_iso(),
            "error": error,
            "is_api_error_message": True,
        }
        frame.update(extra)
        self.emit(frame)
        self.write_transcript("assistant", message, uuid, isApiErrorMessage=True)

    def user_frame(self, text, **extra):
        uuid = new_uuid()
        message = {"role": "user", "content": [{"type": "text", "text": text}]}
        frame = {
            "type": "user",
            "message": message,
            "parent_tool_use_id": None,
            "session_id": self.session_id,
            "uuid": uuid,
            "timestamp": now_iso(),
        }
        frame.update(extra)
        self.emit(frame)
        self.write_transcript("user", message, uuid, **extra)

    # ---- accounting -----------------------------------------------------------------------
    def add_usage(self, turn, inp, out, cache_read, cache_creation):
        price = PRICES.get(self.model, PRICES[DEFAULT_MODEL])
        cost = (inp * price[0] + out * price[1] + cache_read * price[2] + cache_creation * price[3]) / 1e6
        self.total_cost += cost
        for bucket in (self.model_usage, turn):
            entry = bucket.setdefault(
                self.model,
                {
                    "inputTokens": 0,
                    "outputTokens": 0,
                    "cacheReadInputTokens": 0,
                    "cacheCreationInputTokens": 0,
                    "webSearchRequests": 0,
                    "costUSD": 0.0,
                    "contextWindow": 1000000,
                    "maxOutputTokens": 128000,
                    "thinkingTokens": 0,
                    "cacheCreationEphemeral5mInputTokens": 0,
                    "cacheCreationEphemeral1hInputTokens": 0,
                    "canonicalModel": self.model,
                    "provider": "firstParty",
                    "costBasis": "list",
                },
            )
            entry["inputTokens"] += inp
            entry["outputTokens"] += out
            entry["cacheReadInputTokens"] += cache_read
            entry["cacheCreationInputTokens"] += cache_creation
            entry["costUSD"] += cost

    def result_head(self, stop_reason, usage, terminal_reason, api_ms=0):
        return {
            "duration_api_ms": api_ms,
            "stop_reason": stop_reason,
            "session_id": self.session_id,
            "total_cost_usd": self.total_cost or 0,
            "usage": usage,
            "modelUsage": json.loads(json.dumps(self.model_usage)),
            "permission_denials": [],
            "terminal_reason": terminal_reason,
            "fast_mode_state": "off",
            "fast_mode_disabled_reason": "sdk_opt_in_required",
            "subagent_stats": json.loads(json.dumps(SUBAGENT_STATS)),
            "safety_stops": 0,
        }

    def finish_result(self, frame, t0, turn_usage, is_error, timings=False):
        frame["type"] = "result"
        frame["duration_ms"] = ms_since(t0)
        frame["uuid"] = new_uuid()
        if timings:
            ttft = max(ms_since(t0) - 1, 0)
            frame["ttft_stream_ms"] = ttft
            frame["time_to_request_ms"] = 1
            frame["first_content_frame_ms"] = ttft
        frame["queued_turn_count"] = sum(1 for item in self.pending if item.get("type") == "user")
        frame["result_index"] = self.result_index
        frame["model_usage_since_last_result"] = turn_usage
        self.result_index += 1
        self.last_result_error = is_error
        self.emit(frame)
        self.state_frame("idle")

    # ---- stdin ------------------------------------------------------------------------------
    def reader(self):
        stdin = sys.stdin.buffer
        while True:
            try:
                line = stdin.readline()
            except (OSError, ValueError):
                line = b""
            if not line:
                self.inq.put(EOF)
                return
            line = line.strip()
            if not line:
                continue
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                self.inq.put(item)

    def next_item(self):
        """The next stdin item: first those deferred during a turn, else wait for one."""
        if self.pending:
            return self.pending.pop(0)
        return self.inq.get()

    def poll(self, timeout):
        """Wait up to `timeout` seconds during a turn, serving control requests.

        Raises Interrupted on an interrupt request; defers user messages; notes EOF.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if self.eof:
                if remaining > 0:
                    time.sleep(remaining)
                return
            try:
                item = self.inq.get(timeout=remaining) if remaining > 0 else self.inq.get_nowait()
            except queue.Empty:
                return
            if item is EOF:
                self.eof = True
                return
            if item.get("type") == "control_request":
                self.handle_control(item, in_turn=True)
                if self.interrupt_requested:
                    self.interrupt_requested = False
                    raise Interrupted()
            else:
                self.pending.append(item)

    def handle_control(self, item, in_turn=False):
        request_id = item.get("request_id")
        request = item.get("request") or {}
        subtype = request.get("subtype")
        response = None
        if subtype == "initialize":
            self.emit(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "success",
                        "request_id": request_id,
                        "response": self.initialize_response(),
                        "pending_permission_requests": [],
                        "pending_user_dialog_requests": [],
                    },
                }
            )
            return
        if subtype == "interrupt":
            response = {"still_queued": []}
            if in_turn:
                self.interrupt_requested = True
        elif subtype == "set_model":
            self.model = self.resolve_model(request.get("model") or "default")
            if self.turns_done:
                self.emit(
                    {
                        "type": "user",
                        "message": {
                            "role": "user",
                            "content": f"<local-command-stdout>Set model to `{self.model}`</local-command-stdout>",
                        },
                        "session_id": self.session_id,
                        "parent_tool_use_id": None,
                        "uuid": new_uuid(),
                        "timestamp": now_iso(),
                        "isReplay": True,
                    }
                )
            response = {"model": self.model}
        elif subtype == "set_permission_mode":
            self.permission_mode = request.get("mode") or self.permission_mode
            response = {}
        elif subtype == "mcp_status":
            response = {"mcpServers": []}
        if response is None:
            self.emit(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "error",
                        "request_id": request_id,
                        "error": f"Unsupported control request subtype: {subtype}",
                        "error_code": "unsupported_request",
                    },
                }
            )
            return
        self.emit(
            {
                "type": "control_response",
                "response": {"subtype": "success", "request_id": request_id, "response": response},
            }
        )

    # ---- turns ------------------------------------------------------------------------------
    def handle_user(self, item):
        self.user_messages += 1
        if self.user_messages == self.die_at:  # as if killed the moment the message came
            os._exit(137)
        message = item.get("message") or {}
        text = prompt_text(message.get("content"))
        self.log({"event": "user", "pid": os.getpid(), "message": message, "frame": item})
        prior = [list(h) for h in self.history]
        self.user_turns += 1
        self.history.append(["user", text])
        user_uuid = item.get("uuid") or new_uuid()
        self.write_transcript(
            "user",
            {"role": "user", "content": message.get("content", "")},
            user_uuid,
            promptId=new_uuid(),
            permissionMode=self.permission_mode,
            promptSource="sdk",
        )
        if "[[crash]]" in text:
            sys.stderr.write("fake claude: simulated crash\n")
            self.exit(3)

        t0 = time.monotonic()
        self.state_frame("running")
        self.emit(self.init_frame())
        if self.partial:
            self.status_frame()
        try:
            self.run_turn(text, prior, t0)
        except Interrupted:
            self.interrupted(t0)
        self.turns_done += 1

    def status_frame(self):
        if self.partial:
            self.emit(
                {
                    "type": "system",
                    "subtype": "status",
                    "status": "requesting",
                    "session_id": self.session_id,
                    "uuid": new_uuid(),
                }
            )

    def run_turn(self, text, prior, t0):
        if self.no_auth:
            self.synthetic_error("Not logged in \u00b7 Please run /login", "authentication_failed")
            self.error_result(t0, "Not logged in \u00b7 Please run /login", None, None)
            return
        if "[[hang]]" in text:
            while True:  # only an interrupt (raised by poll) or stdin EOF ends this
                self.poll(3600)
                if self.eof:
                    self.exit(0)
        m = re.search(r"\[\[error\s+(\d+)\]\]", text)
        if m:
            self.api_error(int(m.group(1)), t0)
            return
        if "[[history]]" in text:
            answer = json.dumps({"history": prior})
        elif "[[turns]]" in text:
            answer = f"turns: {self.user_turns}"
        elif "[[system]]" in text:
            answer = f"system: {self.system_prompt}"
        else:
            m = re.search(r"\[\[long\s+(\d+)\]\]", text)
            if m:
                answer = " ".join(f"w{i}" for i in range(int(m.group(1))))
            else:
                answer = f"echo: {text}"
        blocks = []
        if "[[think]]" in text:
            blocks.append(("thinking", "thinking about it"))
        blocks.append(("text", answer))
        delay = 0.1 if "[[slow]]" in text else 0.0
        turn_usage = {}
        if "[[max_tokens_exhausted]]" in text:
            self.max_tokens_exhausted(blocks, delay, t0, turn_usage)
            return
        stop_reason = "max_tokens" if "[[max_tokens]]" in text else "end_turn"
        out = self.stream_message(blocks, stop_reason, delay, turn_usage)
        self.history.append(["assistant", answer])
        self.success_result(t0, stop_reason, answer, out, turn_usage)

    def stream_message(self, blocks, stop_reason, delay, turn_usage):
        """Emit one model message; returns its output token count (= chunks streamed)."""
        msg_id = new_msg_id()
        self.current = {
            "msg_id": msg_id,
            "started": False,
            "index": -1,
            "kind": None,
            "text": "",
            "pos": 0,
            "chunks": 0,
            "turn_usage": turn_usage,
        }
        cur = self.current
        if self.partial:
            self.stream(
                {
                    "type": "message_start",
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": self.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": message_usage(),
                    },
                },
                msg_id,
                ttft_ms=1,
                thinking=True,
            )
        cur["started"] = True
        thinking_tokens = 0
        for index, (kind, text) in enumerate(blocks):
            cur.update(index=index, kind=kind, text=text, pos=0)
            thinking = kind == "thinking"
            if self.partial:
                start_block = (
                    {"type": "thinking", "thinking": "", "signature": ""} if thinking else {"type": "text", "text": ""}
                )
                self.stream(
                    {"type": "content_block_start", "index": index, "content_block": start_block},
                    msg_id,
                    thinking=thinking,
                )
            for piece in chunks(text):
                if delay or not self.inq.empty():
                    self.poll(delay)
                if thinking:
                    thinking_tokens += 1
                    self.emit(
                        {
                            "type": "system",
                            "subtype": "thinking_tokens",
                            "estimated_tokens": thinking_tokens,
                            "estimated_tokens_delta": 1,
                            "session_id": self.session_id,
                            "uuid": new_uuid(),
                        }
                    )
                if self.partial:
                    delta = (
                        {"type": "thinking_delta", "thinking": piece}
                        if thinking
                        else {"type": "text_delta", "text": piece}
                    )
                    self.stream(
                        {"type": "content_block_delta", "index": index, "delta": delta}, msg_id, thinking=thinking
                    )
                cur["pos"] += len(piece)
                cur["chunks"] += 1
            if thinking and self.partial:
                self.stream(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": "c2ln"},
                    },
                    msg_id,
                )
            block = (
                {"type": "thinking", "thinking": text, "signature": "c2ln"}
                if thinking
                else {"type": "text", "text": text}
            )
            uuid = new_uuid()
            extra = {"thinking_duration_ms": 1, "thinking_display": "updates"} if thinking else {}
            frame = self.assistant_frame(msg_id, block, uuid, **extra)
            transcript_message = dict(frame["message"], stop_reason=stop_reason)
            self.write_transcript("assistant", transcript_message, uuid)
            cur["kind"] = None
            if self.partial:
                self.stream({"type": "content_block_stop", "index": index}, msg_id)
        self.current = None
        if self.partial:
            self.stream(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": cur["chunks"]},
                },
                msg_id,
            )
            self.stream({"type": "message_stop"}, msg_id)
        self.add_usage(turn_usage, 10, cur["chunks"], 3, 2)
        return cur["chunks"]

    def success_result(self, t0, stop_reason, answer, output_tokens, turn_usage, num_turns=1):
        frame = self.result_head(
            stop_reason,
            full_usage(10 * num_turns, output_tokens, 3 * num_turns, 2 * num_turns),
            "completed",
            api_ms=max(ms_since(t0) - 1, 0),
        )
        frame.update(
            {
                "is_error": False,
                "num_turns": num_turns,
                "subtype": "success",
                "api_error_status": None,
                "result": answer,
                "ttft_ms": max(ms_since(t0) - 1, 0),
            }
        )
        self.finish_result(frame, t0, turn_usage, False, timings=True)

    def error_result(self, t0, text, status, error_type, extra=None, usage=None, num_turns=1, turn_usage=None):
        frame = self.result_head("stop_sequence", usage or full_usage(error_shape=True), "api_error")
        frame.update({"is_error": True, "num_turns": num_turns, "subtype": "success", "api_error_status": status})
        if error_type:
            frame["api_error_type"] = error_type
        if extra:
            frame.update(extra)
        frame["result"] = text
        self.finish_result(frame, t0, turn_usage or {}, True)

    def api_error(self, status, t0):
        message = self.env.get("FAKE_CLAUDE_ERROR_MESSAGE") or "fake upstream error"
        if status == 400:
            message = EXTRA_USAGE_TEXT
        gateway = ""
        base = self.env.get("ANTHROPIC_BASE_URL") or ""
        m = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]+)", base)
        if m and m.group(1) != "api.anthropic.com":
            gateway = f" If it persists, check your inference gateway ({m.group(1).split('@')[-1]})."
        if status == 429:
            error, error_type = "rate_limit", "rate_limit_error"
            text = f"API Error: Request rejected (429) \u00b7 {message}"
        elif status == 401:
            error, error_type = "authentication_failed", "authentication_error"
            text = f"Failed to authenticate. API Error: 401 {message}"
        elif status >= 500:
            error = "server_error"
            error_type = "overloaded_error" if status == 529 else "api_error"
            trimmed = re.sub(r"[.!?\u2026]+$", "", message)
            text = (
                f"API Error: {status} {trimmed}. This is a server-side issue, usually temporary"
                f" \u2014 try again in a moment.{gateway}"
            )
        else:
            error = "unknown"
            error_type = {
                400: "invalid_request_error",
                403: "permission_error",
                404: "not_found_error",
                413: "request_too_large",
            }.get(status, "api_error")
            text = f"API Error: {status} {message}"
        retries = self.env.get("CLAUDE_CODE_MAX_RETRIES", "")
        if retries.isdigit() and int(retries) > 0 and (status == 429 or status >= 500):
            for attempt in range(1, int(retries) + 1):
                delay = 7000 if status == 429 else min(500 * 2 ** (attempt - 1), 32000)
                self.emit(
                    {
                        "type": "system",
                        "subtype": "api_retry",
                        "attempt": attempt,
                        "max_retries": int(retries),
                        "retry_delay_ms": delay,
                        "error_status": status,
                        "error": error,
                        "session_id": self.session_id,
                        "uuid": new_uuid(),
                    }
                )
        self.synthetic_error(text, error, api_error_status=status, api_error_type=error_type)
        self.error_result(t0, text, status, error_type)

    def max_tokens_exhausted(self, blocks, delay, t0, turn_usage):
        attempts = 4
        total_out = 0
        for attempt in range(attempts):
            if attempt:
                self.user_frame(TOKEN_LIMIT_TEXT, isSynthetic=True)
                self.status_frame()
            total_out += self.stream_message(blocks, "max_tokens", delay, turn_usage)
        text = (
            "API Error: Claude's response exceeded the 128000 output token maximum. To configure this "
            "behavior, set the CLAUDE_CODE_MAX_OUTPUT_TOKENS environment variable."
        )
        self.synthetic_error(
            text, "max_output_tokens", api_error="max_output_tokens", api_error_params={"cut": "output_limit"}
        )
        usage = full_usage(10 * attempts, total_out, 3 * attempts, 2 * attempts)
        self.error_result(
            t0,
            text,
            None,
            None,
            extra={"api_error": "max_output_tokens"},
            usage=usage,
            num_turns=attempts,
            turn_usage=turn_usage,
        )

    def interrupted(self, t0):
        cur, self.current = self.current, None
        turn_usage = {}
        if cur and cur["started"]:
            turn_usage = cur["turn_usage"]
            partial = cur["text"][: cur["pos"]]
            if cur["kind"] and partial:
                block = (
                    {"type": "thinking", "thinking": partial, "signature": ""}
                    if cur["kind"] == "thinking"
                    else {"type": "text", "text": partial}
                )
                uuid = new_uuid()
                frame = self.assistant_frame(cur["msg_id"], block, uuid, aborted=True)
                self.write_transcript("assistant", frame["message"], uuid)
                if cur["kind"] == "text":
                    self.history.append(["assistant", partial])
        self.user_frame(INTERRUPTED_TEXT)
        if cur and cur["started"]:
            if self.partial:
                if cur["kind"]:
                    self.stream({"type": "content_block_stop", "index": cur["index"]}, cur["msg_id"])
                usage = {
                    "output_tokens_details": {"thinking_tokens": 0},
                    "cache_creation_input_tokens": 2,
                    "cache_read_input_tokens": 3,
                    "input_tokens": 10,
                    "iterations": [],
                    "output_tokens": 1,
                    "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                    "fallback_credit": None,
                }
                self.stream(
                    {
                        "type": "message_delta",
                        "context_management": None,
                        "delta": {"container": None, "stop_details": None, "stop_reason": None, "stop_sequence": None},
                        "usage": usage,
                    },
                    cur["msg_id"],
                )
                self.stream(
                    {"type": "message_stop"},
                    cur["msg_id"],
                    abandoned_blocks={"api_message_id": cur["msg_id"], "from_block_index": cur["index"] + 1},
                )
            self.add_usage(turn_usage, 10, cur["chunks"], 3, 2)
        frame = self.result_head(None, full_usage(error_shape=True), "aborted_streaming")
        frame.update(
            {
                "is_error": True,
                "num_turns": 2,
                "subtype": "error_during_execution",
                "errors": ["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"],
            }
        )
        self.finish_result(frame, t0, turn_usage, True)

    # ---- main loop --------------------------------------------------------------------------
    def run(self):
        self.log(
            {
                "event": "start",
                "pid": os.getpid(),
                "argv": list(self.argv),
                "cwd": self.cwd,
                "env": {k: v for k, v in self.env.items() if k.startswith(("CLAUDE_", "ANTHROPIC_"))},
            }
        )
        threading.Thread(target=self.reader, daemon=True).start()
        if self.resume_missing is not None or self.session_in_use is not None:
            # The real CLI answers nothing, not even initialize, and exits 1.
            try:  # the SDK writes its initialize request first; exit after it arrived
                self.inq.get(timeout=10)
            except queue.Empty:
                pass
        if self.session_in_use is not None:
            sys.stderr.write(f"Error: Session ID {self.session_in_use} is already in use.\n")
            self.exit(1)
        if self.resume_missing is not None:
            text = f"No conversation found with session ID: {self.resume_missing}"
            self.emit(
                {
                    "type": "result",
                    "subtype": "error_during_execution",
                    "duration_ms": 0,
                    "duration_api_ms": 0,
                    "is_error": True,
                    "num_turns": 0,
                    "stop_reason": None,
                    "session_id": self.resume_missing,
                    "total_cost_usd": 0,
                    "usage": full_usage(error_shape=True),
                    "modelUsage": {},
                    "permission_denials": [],
                    "uuid": new_uuid(),
                    "errors": [text],
                    "result_index": 0,
                }
            )
            sys.stderr.write(text + "\n")
            self.exit(1)
        while True:
            if self.eof and not self.pending:
                break
            item = self.next_item()
            if item is EOF:
                self.eof = True
                time.sleep(self.exit_delay)  # a CLI slow to exit, still holding its memory
                continue
            kind = item.get("type")
            if kind == "control_request":
                self.handle_control(item)
            elif kind == "user":
                self.handle_user(item)
            # control_response, control_cancel_request, keep_alive, ...: nothing to do
        self.exit(1 if self.last_result_error else 0)


def main():
    if any(a in ("-v", "--version") for a in sys.argv[1:]):
        sys.stdout.write(f"{CLI_VERSION} (Claude Code)\n")
        return 0
    FakeClaude(sys.argv, dict(os.environ)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
