#!/usr/bin/env bash
# Claude Gateway with plain curl: list models, one plain request, one streamed request.
#
#   bash examples/curl.sh
#
# Environment:
#   GATEWAY_URL      base URL including /v1   (default http://127.0.0.1:8000/v1)
#   GATEWAY_API_KEY  sent as "Authorization: Bearer <key>" when set; leave it unset if the
#                    gateway runs without GATEWAY_API_KEYS
#   GATEWAY_MODEL    sonnet, opus, haiku, a claude-... id or a configured alias (default sonnet)
#
# Errors come back in OpenAI's shape, {"error": {"message", "type", "param", "code"}};
# --fail-with-body (curl >= 7.76) prints that body and makes the script stop there.
set -eu

URL="${GATEWAY_URL:-http://127.0.0.1:8000/v1}"
MODEL="${GATEWAY_MODEL:-sonnet}"
KEY="${GATEWAY_API_KEY:-}"

# curl with the bearer key when one is set, and a newline after each answer
gw() {
  if [ -n "$KEY" ]; then
    curl --silent --show-error --fail-with-body --write-out "\n" -H "Authorization: Bearer $KEY" "$@"
  else
    curl --silent --show-error --fail-with-body --write-out "\n" "$@"
  fi
}

echo "== GET /models =="
gw "$URL/models"

echo
echo "== POST /chat/completions =="
gw "$URL/chat/completions" \
  -H "Content-Type: application/json" \
  -d '{
    "model": "'"$MODEL"'",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "Name three primary colours."}
    ]
  }'

echo
echo "== POST /chat/completions, streamed (server-sent events) =="
# -N: print each event as it arrives instead of buffering.
gw -N "$URL/chat/completions" \
  -H "Content-Type: application/json" \
  -d '{
    "model": "'"$MODEL"'",
    "stream": true,
    "stream_options": {"include_usage": true},
    "messages": [{"role": "user", "content": "Count from 1 to 5."}]
  }'
