#!/usr/bin/env bash
# `make run`: starts the server on ./data with the demo sensor fleet and prints the URL.
set -euo pipefail
BUILD=${1:-build}
DATA=${YIWANG_DATA_DIR:-data}
LISTEN=${YIWANG_LISTEN:-127.0.0.1:8080}
exec "$BUILD/yiwang" serve --data-dir "$DATA" --listen "$LISTEN" --demo
