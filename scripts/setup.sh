#!/usr/bin/env bash
# Install everything linkgraph and its tests need on a fresh Debian machine (as root):
# Debian's Chromium for rendering (Playwright's own browser download is never used) and
# a C++ compiler for the scorer's compiled loops, redis-server for distributed crawls, a Java runtime for the Spark engine
# (pyspark runs Spark in a JVM), then linkgraph itself, editable, with its test and
# spark extras.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || missing+=(g++)
# redis-server: the frontier of a distributed crawl (--workers N starts a private one).
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] \
    || missing+=(openjdk-17-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[test,spark]'
# Build the scorer's compiled loops now (~1.5 s, once per install), so the first
# `linkgraph score` does not pay for it.
python3 -c "from linkgraph.scoring.score import warm_up; warm_up()"
# Bundle the report's chart scripts now (~10 s, once per install; see linkgraph/analysis/report.py).
python3 -c "from linkgraph.analysis.report import vega_bundle; vega_bundle()"
