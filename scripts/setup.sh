#!/usr/bin/env bash
# Install everything linkgraph and its tests need on a fresh Debian machine (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium redis-server >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
