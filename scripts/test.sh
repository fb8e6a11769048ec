#!/usr/bin/env bash
# The test command: the whole suite, offline, against servers the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest "$@"
