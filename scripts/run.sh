#!/usr/bin/env bash
# Starts the service on the default model. Usage: scripts/run.sh BINARY MODEL_DIR HOST PORT
set -euo pipefail
BINARY=$1 MODEL_DIR=$2 HOST=$3 PORT=$4
if "$BINARY" serve --help >/dev/null 2>&1; then
  echo "akidb-embed: serving $MODEL_DIR on http://$HOST:$PORT"
  echo "try: curl -s http://$HOST:$PORT/v1/embeddings -H 'Content-Type: application/json' -d '{\"input\": \"Hello, world\"}'"
  exec "$BINARY" serve --model "$MODEL_DIR" --host "$HOST" --port "$PORT"
fi
echo "Hello, world" | "$BINARY" embed --model "$MODEL_DIR"
