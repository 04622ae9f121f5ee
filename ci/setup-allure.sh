#!/usr/bin/env bash
# ci/setup-allure.sh - the Allure report CLI (npm "allure", v3) in .cache/node, idempotent.
# Farm writes allure-results/ itself; `farm report` renders them to HTML with this CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.18.0
PREFIX=.cache/node
if [ -x "$PREFIX/node_modules/.bin/allure" ] && grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/allure/package.json" 2>/dev/null; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "[setup-allure] need root to install nodejs/npm" >&2; exit 2; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
mkdir -p "$PREFIX"
echo "[setup-allure] npm install allure@$VERSION -> $PREFIX" >&2
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "allure@$VERSION" >/dev/null
"$PREFIX/node_modules/.bin/allure" --version >&2
