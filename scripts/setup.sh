#!/usr/bin/env bash
# Install everything linkgraph and its tests need on a fresh Debian machine (as root):
# Debian's Chromium for rendering (Playwright's own browser download is never used),
# then linkgraph itself, editable, with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[test]'
# Compile the scoring kernels once now (numba caches them on disk), so the first
# `linkgraph score` does not pay for it.
python3 -c "from linkgraph.scoring.score import warm_up; warm_up()"
