#!/usr/bin/env bash
# Packs each package (pnpm pack) and installs the four tarballs into an empty npm project, as a
# user would, then imports the public entries, runs the packed `sanlock-ts` command and starts its
# daemon for one `client status`. Needs the npm registry (the packages' own dependencies) and a
# build. Not part of CI: it checks what we publish, not what the tests drive. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /var/tmp/sanlock-ts-pack-XXXXXX)
trap 'SANLOCK_RUN_DIR="$work/run" "$work/proj/node_modules/.bin/sanlock-ts" client shutdown -f 1 >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
for p in core client daemon cli; do (cd "packages/$p" && pnpm pack --pack-destination "$work/tgz" >/dev/null); done
mkdir "$work/proj" && cd "$work/proj"
npm init -y >/dev/null
npm install "$work"/tgz/*.tgz --no-audit --no-fund >/dev/null 2>&1
# npm 11 runs no dependency install scripts unless approved: the native addons need theirs.
npm install-scripts approve koffi fs-ext ioctl >/dev/null 2>&1 || true
npm rebuild >/dev/null
cat > check.mjs <<'JS'
import { SanlockClient } from "@sanlock-ts/client";
import { resultName } from "@sanlock-ts/client/wire";
import { startEmbeddedDaemon } from "@sanlock-ts/daemon/embedded";
import { PaxosLease } from "@sanlock-ts/core";
if (typeof SanlockClient !== "function" || typeof startEmbeddedDaemon !== "function" || typeof PaxosLease !== "function") throw new Error("an entry is missing");
if (resultName(-243) !== "SANLK_ACQUIRE_IDLIVE") throw new Error("result table");
console.log("pack-check: entries import");
JS
node check.mjs
test "$(npx sanlock-ts version)" = "3.8.5"
mkdir "$work/run"
(SANLOCK_RUN_DIR="$work/run" SANLOCK_PRIVILEGED=0 npx sanlock-ts daemon -D -w 0 -U root -G root >"$work/daemon.log" 2>&1 &)
for _ in $(seq 50); do [ -S "$work/run/sanlock.sock" ] && break; sleep 0.2; done
SANLOCK_RUN_DIR="$work/run" npx sanlock-ts client status | grep -q "^daemon " && echo "pack-check: the packed daemon answers client status"
