#!/bin/sh
# Install Claude Gateway's locked dependencies (poetry.lock, main group only: no dev tools) into
# ./.venv, run from the repository's root. The bundled Claude Code CLI comes with them: it is
# inside claude-agent-sdk's wheel (a platform wheel: linux x86_64 or aarch64).
#
# deploy/Dockerfile runs this script, and so does tests/deploy/test_install_and_start.py, as an
# unprivileged user in a fresh folder: the test checks the image's own install step.
#
#   PYTHON        the Python that the gateway's venv is made from (default: python3)
#   POETRY_HOME   where Poetry itself is installed, in a venv of its own (default: ./.poetry);
#                 the image drops it after the install
set -eu

PYTHON="${PYTHON:-python3}"
POETRY_VERSION="2.5.1"  # the version that generated poetry.lock
POETRY_HOME="${POETRY_HOME:-$PWD/.poetry}"
# No keyring on a build machine or in an image: Poetry must not wait for one.
export PYTHON_KEYRING_BACKEND="${PYTHON_KEYRING_BACKEND:-keyring.backends.null.Keyring}"

"$PYTHON" -m venv "$POETRY_HOME"
"$POETRY_HOME/bin/pip" install --quiet --disable-pip-version-check "poetry==$POETRY_VERSION"

# poetry.toml keeps the venv in the project (./.venv). `install` refuses a poetry.lock that no
# longer matches pyproject.toml, so the image never resolves dependencies afresh.
"$POETRY_HOME/bin/poetry" env use --no-interaction "$PYTHON"
"$POETRY_HOME/bin/poetry" install --only main --no-root --no-interaction --no-ansi
# The bundled CLI must be there and runnable (a wheel of the wrong platform has none).
./.venv/bin/python - <<'PY'
import os, subprocess, claude_agent_sdk
cli = os.path.join(os.path.dirname(claude_agent_sdk.__file__), "_bundled", "claude")
version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
print(f"claude-agent-sdk {claude_agent_sdk.__version__}, Claude Code {version}")
PY
