#!/usr/bin/env bash
# Regenerates the golden vectors of test/vectors/ with the real sanlock 3.8.5 (the `sanlock`
# tool and daemon, and the python3-sanlock binding) and compares them byte for byte with the
# copies in the repository. test/vectors/README.md says what each file is and which bytes can
# differ from one run to the next (monotonic timestamps and what depends on them).
#
#   scripts/make-vectors.sh [--scenarios direct,S,R,T|all] [--update] [--keep]
#
#   --scenarios  which groups to run (default: direct). direct needs only `sanlock direct` and
#                takes a second; S (one daemon, three geometries) takes about 30 s; R (resource
#                index) about 10 s; T (two daemons, one killed) about 2 minutes.
#   --update     copy the regenerated files over test/vectors/ (otherwise only compare).
#   --keep       keep the work directory (areas, snapshots, daemon logs).
#
# Needs root (the daemons run as root with the watchdog off), /usr/sbin/sanlock and
# /usr/bin/python3 with the sanlock module (scripts/setup.sh installs both). The work
# directory is on disk (sanlock opens files with O_DIRECT, which tmpfs refuses):
# $SANLOCK_TS_TEST_TMPDIR or /var/tmp.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VEC=$ROOT/test/vectors
SCENARIOS=direct
UPDATE=0
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --scenarios=*) SCENARIOS=${1#*=}; shift ;;
    --update) UPDATE=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "make-vectors: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$SCENARIOS" = all ] && SCENARIOS=direct,S,R,T

SANLOCK=$(command -v sanlock || echo /usr/sbin/sanlock)
PY=/usr/bin/python3
[ -x "$SANLOCK" ] || { echo "make-vectors: sanlock not installed" >&2; exit 1; }

WORK=$(mktemp -d "${SANLOCK_TS_TEST_TMPDIR:-/var/tmp}/make-vectors.XXXXXX")
OUT=$WORK/out
mkdir -p "$OUT"
# Every daemon started (also in the parallel subshells of scenario S) is listed in $WORK/daemons
# as "PID RUN_DIR"; stop_daemons shuts each one down (forced: its lockspaces are removed, its
# holders killed) and SIGKILLs it and its helper if it is still there after 10 s.
stop_daemons() {
  [ -e "$WORK/daemons" ] || return 0
  local pid run helpers
  while read -r pid run; do
    kill -0 "$pid" 2>/dev/null || continue
    SANLOCK_RUN_DIR=$run "$SANLOCK" client shutdown -f 1 >/dev/null 2>&1 || true
  done <"$WORK/daemons"
  while read -r pid run; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      helpers=$(ps -o pid= --ppid "$pid" || true)
      kill -9 "$pid" $helpers 2>/dev/null || true
    fi
  done <"$WORK/daemons"
  rm -f "$WORK/daemons"
}
cleanup() {
  stop_daemons
  if [ "$KEEP" = 1 ]; then echo "make-vectors: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# cut FILE OFFSET SIZE NAME: bytes OFFSET..OFFSET+SIZE-1 of FILE into $OUT/NAME.
cut() {
  dd if="$1" of="$OUT/$4" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
  [ "$(stat -c %s "$OUT/$4")" = "$3" ] || { echo "make-vectors: $4: $1 is too short" >&2; exit 1; }
}

# start_daemon NAME [extra daemon args]: a daemon with its own run directory $WORK/run-NAME,
# watchdog off, not privileged; waits for its socket. Sets DAEMON_PID.
start_daemon() {
  local name=$1; shift
  local run=$WORK/run-$name
  mkdir -p "$run"
  SANLOCK_RUN_DIR=$run SANLOCK_PRIVILEGED=0 "$SANLOCK" daemon -D -w 0 -l 0 -h 0 -U root -G root "$@" \
    >"$WORK/daemon-$name.log" 2>&1 &
  DAEMON_PID=$!
  echo "$DAEMON_PID $run" >>"$WORK/daemons"
  for _ in $(seq 100); do [ -S "$run/sanlock.sock" ] && return 0; sleep 0.1; done
  echo "make-vectors: daemon $name did not start (see $WORK/daemon-$name.log)" >&2; exit 1
}

# ---------------------------------------------------------------------------------------------
# direct: `sanlock direct init` / `direct format` only, no daemon.
direct() {
  local f
  f=$WORK/d-ls-512; truncate -s 8M "$f"
  "$SANLOCK" direct init -s "LS:0:$f:0" -Z 512 -A 1M >/dev/null
  cut "$f" 0 1024 ls-512-1M-init.bin
  cut "$f" 1023488 1024 ls-512-1M-init-end.bin

  f=$WORK/d-ls-512-io5; truncate -s 1M "$f"
  "$SANLOCK" direct init -s "LS:0:$f:0" -Z 512 -A 1M -o 5 >/dev/null
  cut "$f" 0 512 ls-512-1M-init-io5.bin

  for a in 1M 2M 4M 8M; do
    f=$WORK/d-ls-4096-$a; truncate -s 8M "$f"
    "$SANLOCK" direct init -s "LS:0:$f:0" -Z 4096 -A $a >/dev/null
    if [ $a = 1M ]; then cut "$f" 0 8192 ls-4096-1M-init.bin; else cut "$f" 0 4096 ls-4096-$a-init.bin; fi
  done

  f=$WORK/d-res-512; truncate -s 8M "$f"
  "$SANLOCK" direct init -r "LS:RES1:$f:0" -Z 512 -A 1M >/dev/null
  cut "$f" 0 1536 res-512-1M-init.bin
  for a in 1M 2M 4M 8M; do
    f=$WORK/d-res-4096-$a; truncate -s 8M "$f"
    "$SANLOCK" direct init -r "LS:RES1:$f:0" -Z 4096 -A $a >/dev/null
    if [ $a = 1M ]; then cut "$f" 0 12288 res-4096-1M-init.bin; else cut "$f" 0 8192 res-4096-$a-init.bin; fi
  done

  f=$WORK/d-res-n4; truncate -s 1M "$f"
  "$SANLOCK" direct init -r "LS:RES1:$f:0" -Z 512 -A 1M -n 4 >/dev/null
  cut "$f" 0 1024 res-512-1M-init-n4.bin

  f=$WORK/d-res-clear; truncate -s 1M "$f"
  "$SANLOCK" direct init -r "LS:RES1:$f:0" -Z 512 -A 1M -z 1 >/dev/null
  cut "$f" 0 1024 res-512-1M-clear.bin

  f=$WORK/d-rx-512; truncate -s 24M "$f"
  "$SANLOCK" direct format -x "LS:$f:1M" -Z 512 -A 1M >/dev/null
  cut "$f" 1048576 1024 rindex-512-1M-format-header.bin
  cut "$f" 2097152 1024 rindex-512-1M-format-lease.bin

  f=$WORK/d-rx-4096; truncate -s 24M "$f"
  "$SANLOCK" direct format -x "LS:$f:8M" -Z 4096 -A 8M >/dev/null
  cut "$f" 8388608 8192 rindex-4096-8M-format-header.bin
}

# ---------------------------------------------------------------------------------------------
# S: one daemon (host_id 1, io_timeout 1), three leases; the whole file is copied after each
# step. Run for 512/1M, 4096/1M and 4096/8M (one daemon each, in parallel).
SCENARIO_S_PY='
import os, shutil, signal, sys, time, sanlock
signal.signal(signal.SIGTERM, signal.SIG_IGN)   # the REQUEST of step 10 targets our own lease
f, snap = sys.argv[1], sys.argv[2]
ex, sh, lvb = (int(x) for x in sys.argv[3:6])
fb = f.encode()
def step(n): shutil.copyfile(f, "%s/%d.img" % (snap, n))
sanlock.add_lockspace(b"LS", 1, fb, 0, iotimeout=1); step(1)
time.sleep(5); step(2)
fd = sanlock.register()
sanlock.acquire(b"LS", b"RES_EX", [(fb, ex)], slkfd=fd); step(3)
sanlock.release(b"LS", b"RES_EX", [(fb, ex)], slkfd=fd); step(4)
sanlock.acquire(b"LS", b"RES_SH", [(fb, sh)], slkfd=fd, shared=True); step(5)
sanlock.release(b"LS", b"RES_SH", [(fb, sh)], slkfd=fd); step(6)
sanlock.acquire(b"LS", b"RES_LVB", [(fb, lvb)], slkfd=fd, lvb=True)
sanlock.set_lvb(b"LS", b"RES_LVB", [(fb, lvb)], b"hello lvb"); step(7)
sanlock.release(b"LS", b"RES_LVB", [(fb, lvb)], slkfd=fd); step(8)
sanlock.acquire(b"LS", b"RES_EX", [(fb, ex)], slkfd=fd); step(9)
sanlock.request(b"LS", b"RES_EX", [(fb, ex)], action=sanlock.REQ_GRACEFUL); step(10)
sanlock.set_event(b"LS", 2, 7, 0x1122, 0x3344); time.sleep(3); step(11)
time.sleep(8); step(12)
sanlock.release(b"LS", b"RES_EX", [(fb, ex)], slkfd=fd); step(13)
sanlock.rem_lockspace(b"LS", 1, fb, 0); step(14)
'
SCENARIO_S_HOST=7c93aafd-9939-4bb5-ba75-5a583a43b897.vm

# s_run TAG SECTOR ALIGN AREA_BYTES FILE_SIZE: the run, snapshots in $WORK/S-TAG/N.img.
s_run() {
  local tag=$1 ss=$2 align=$3 area=$4 size=$5
  local f=$WORK/S-$tag.img snap=$WORK/S-$tag
  mkdir -p "$snap"
  truncate -s "$size" "$f"
  "$SANLOCK" direct init -s "LS:0:$f:0" -Z "$ss" -A "$align" >/dev/null
  "$SANLOCK" direct init -r "LS:RES_EX:$f:$area" -Z "$ss" -A "$align" >/dev/null
  "$SANLOCK" direct init -r "LS:RES_SH:$f:$((2 * area))" -Z "$ss" -A "$align" >/dev/null
  "$SANLOCK" direct init -r "LS:RES_LVB:$f:$((3 * area))" -Z "$ss" -A "$align" >/dev/null
  start_daemon "S-$tag" -e "$SCENARIO_S_HOST"
  SANLOCK_RUN_DIR=$WORK/run-S-$tag "$PY" -c "$SCENARIO_S_PY" "$f" "$snap" "$area" "$((2 * area))" "$((3 * area))" \
    >"$WORK/S-$tag.log" 2>&1 || { echo "make-vectors: scenario S $tag failed:" >&2; cat "$WORK/S-$tag.log" >&2; return 1; }
}

scenario_S() {
  local M=1048576 pids=() rc=0
  s_run 512 512 1M $M $((6 * M)) & pids+=($!)
  s_run 4096-1M 4096 1M $M $((6 * M)) & pids+=($!)
  s_run 4096-8M 4096 8M $((8 * M)) $((32 * M)) & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || exit 1
  local s=$WORK/S-512
  cut "$s/1.img" 0 1024 ls-512-live.bin
  cut "$s/2.img" 0 512 ls-512-renewed.bin
  cut "$s/3.img" $M 1536 res-512-ex-acquired.bin
  cut "$s/4.img" $M 1536 res-512-ex-released.bin
  cut "$s/5.img" $((2 * M)) 1536 res-512-sh-acquired.bin
  cut "$s/6.img" $((2 * M)) 1536 res-512-sh-released.bin
  cut "$s/8.img" $((3 * M + 2002 * 512)) 512 res-512-lvb-sector.bin
  cut "$s/9.img" $M 1536 res-512-ex-reacquired.bin
  cut "$s/10.img" $M 1536 res-512-requested.bin
  cut "$s/11.img" 0 512 ls-512-event.bin
  cut "$s/12.img" 0 512 ls-512-event-bitcleared.bin
  cut "$s/14.img" 0 512 ls-512-removed.bin
  s=$WORK/S-4096-1M
  cut "$s/11.img" 0 4096 ls-4096-1M-event.bin
  cut "$s/5.img" $((2 * M)) 12288 res-4096-1M-sh-acquired.bin
  cut "$s/8.img" $((3 * M + 2002 * 4096)) 4096 res-4096-1M-lvb-misplaced.bin
  s=$WORK/S-4096-8M
  cut "$s/8.img" $((24 * M + 2002 * 4096)) 4096 res-4096-8M-lvb-sector.bin
}

# ---------------------------------------------------------------------------------------------
# R: resource index, 512/1M, rindex at 1 MiB, one daemon with host_id 1.
scenario_R() {
  local M=1048576 f=$WORK/R.img run=$WORK/run-R
  truncate -s 8M "$f"
  "$SANLOCK" direct init -s "LS:0:$f:0" -Z 512 -A 1M >/dev/null
  "$SANLOCK" direct format -x "LS:$f:$M" -Z 512 -A 1M >/dev/null
  start_daemon R -e "$SCENARIO_S_HOST"
  SANLOCK_RUN_DIR=$run "$PY" -c 'import sys, sanlock; sanlock.add_lockspace(b"LS", 1, sys.argv[1].encode(), 0, iotimeout=1)' "$f"
  SANLOCK_RUN_DIR=$run "$SANLOCK" client create -x "LS:$f:$M" -e RXA >/dev/null
  SANLOCK_RUN_DIR=$run "$SANLOCK" client create -x "LS:$f:$M" -e RXB >/dev/null
  cp "$f" "$WORK/R-created.img"
  SANLOCK_RUN_DIR=$run "$SANLOCK" client delete -x "LS:$f:$M" -e RXA >/dev/null
  cp "$f" "$WORK/R-deleted.img"
  cut "$WORK/R-created.img" $M 1024 rindex-512-1M-created-header.bin
  cut "$WORK/R-created.img" $((2 * M)) 1536 rindex-512-1M-created-lease.bin
  cut "$WORK/R-created.img" $((3 * M)) 1024 rindex-512-1M-created-RXA.bin
  cut "$WORK/R-deleted.img" $M 1024 rindex-512-1M-deleted-header.bin
  cut "$WORK/R-deleted.img" $((3 * M)) 1024 rindex-512-1M-deleted-RXA.bin
}

# ---------------------------------------------------------------------------------------------
# T: two daemons ("hostA" = host_id 1, "hostB" = host_id 2), a request, two shared holders,
# and host B killed (daemon, helper and lease holder) so that A takes its leases over.
T_HOLDER_PY='
import os, sys, time, sanlock
f, marker = sys.argv[1].encode(), sys.argv[2]
leases = sys.argv[3:]          # NAME:OFFSET:ex|sh
fd = sanlock.register()
for spec in leases:
    name, off, mode = spec.split(":")
    sanlock.acquire(b"LS", name.encode(), [(f, int(off))], slkfd=fd, shared=(mode == "sh"))
open(marker, "w").close()
while True: time.sleep(60)
'
T_A_PY='
import os, shutil, sys, time, sanlock
f, snap, b2pid, killreq, killed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
fb, M = f.encode(), 1048576
def step(n): shutil.copyfile(f, "%s/%s.img" % (snap, n))
fd = sanlock.register()
sanlock.acquire(b"LS", b"RES_SH", [(fb, 2 * M)], slkfd=fd, shared=True); step("sh-both")
sanlock.request(b"LS", b"RES_REQ", [(fb, 3 * M)], action=sanlock.REQ_GRACEFUL); step("requested")
time.sleep(2.5); step("request-bitmap")
while os.path.exists("/proc/%d" % b2pid) and open("/proc/%d/stat" % b2pid).read().split()[2] != "Z":
    time.sleep(0.1)
time.sleep(2); step("request-honored")
sanlock.release(b"LS", b"RES_SH", [(fb, 2 * M)], slkfd=fd)
open(killreq, "w").close()
while not os.path.exists(killed): time.sleep(0.1)
start = time.monotonic()
while True:
    try:
        sanlock.acquire(b"LS", b"RES_A", [(fb, M)], slkfd=fd); break
    except sanlock.SanlockException:
        time.sleep(5)
print("takeover after %.0f s" % (time.monotonic() - start))
step("takeover")
sanlock.acquire(b"LS", b"RES_SH", [(fb, 2 * M)], slkfd=fd); step("sh-dead-cleared")
'
scenario_T() {
  local M=1048576 f=$WORK/T.img snap=$WORK/T
  mkdir -p "$snap"
  truncate -s 5M "$f"
  "$SANLOCK" direct init -s "LS:0:$f:0" -Z 512 -A 1M -o 1 >/dev/null
  "$SANLOCK" direct init -r "LS:RES_A:$f:$M" -Z 512 -A 1M >/dev/null
  "$SANLOCK" direct init -r "LS:RES_SH:$f:$((2 * M))" -Z 512 -A 1M >/dev/null
  "$SANLOCK" direct init -r "LS:RES_REQ:$f:$((3 * M))" -Z 512 -A 1M >/dev/null
  start_daemon T-A -a 0 -e hostA
  start_daemon T-B -a 0 -e hostB
  local daemon_b=$DAEMON_PID runA=$WORK/run-T-A runB=$WORK/run-T-B
  SANLOCK_RUN_DIR=$runA "$PY" -c 'import sys, sanlock; sanlock.add_lockspace(b"LS", 1, sys.argv[1].encode(), 0, iotimeout=1)' "$f"
  SANLOCK_RUN_DIR=$runB "$PY" -c 'import sys, sanlock; sanlock.add_lockspace(b"LS", 2, sys.argv[1].encode(), 0, iotimeout=1)' "$f"
  cp "$f" "$snap/joined.img"
  SANLOCK_RUN_DIR=$runB "$PY" -c "$T_HOLDER_PY" "$f" "$WORK/T-B1.ready" "RES_A:$M:ex" "RES_SH:$((2 * M)):sh" >"$WORK/T-B1.log" 2>&1 &
  local b1=$!
  SANLOCK_RUN_DIR=$runB "$PY" -c "$T_HOLDER_PY" "$f" "$WORK/T-B2.ready" "RES_REQ:$((3 * M)):ex" >"$WORK/T-B2.log" 2>&1 &
  local b2=$!
  for _ in $(seq 300); do [ -e "$WORK/T-B1.ready" ] && [ -e "$WORK/T-B2.ready" ] && break; sleep 0.1; done
  [ -e "$WORK/T-B1.ready" ] && [ -e "$WORK/T-B2.ready" ] || { echo "make-vectors: T: host B's holders did not acquire" >&2; exit 1; }
  SANLOCK_RUN_DIR=$runA "$PY" -c "$T_A_PY" "$f" "$snap" "$b2" "$WORK/T.killreq" "$WORK/T.killed" >"$WORK/T-A.log" 2>&1 &
  local a=$!
  for _ in $(seq 600); do [ -e "$WORK/T.killreq" ] && break; sleep 0.1; done
  [ -e "$WORK/T.killreq" ] || { echo "make-vectors: T: host A did not reach the kill step" >&2; cat "$WORK/T-A.log" >&2; exit 1; }
  # Host B fails: its daemon, the daemon's helper process (its child) and the holder B1.
  local helpers
  helpers=$(ps -o pid= --ppid "$daemon_b" || true)
  kill -9 "$daemon_b" $helpers "$b1" 2>/dev/null || true
  wait "$b1" 2>/dev/null || true
  wait "$b2" 2>/dev/null || true
  touch "$WORK/T.killed"
  wait "$a" || { echo "make-vectors: T: host A failed:" >&2; cat "$WORK/T-A.log" >&2; exit 1; }
  cat "$WORK/T-A.log"
  cut "$snap/joined.img" 0 1024 two-ls-joined.bin
  cut "$snap/sh-both.img" $((2 * M)) 2048 two-res-sh-both.bin
  cut "$snap/requested.img" $((3 * M)) 2048 two-res-requested.bin
  cut "$snap/request-bitmap.img" 0 1024 two-ls-request-bitmap.bin
  cut "$snap/request-honored.img" $((3 * M)) 2048 two-res-request-honored.bin
  cut "$snap/takeover.img" $M 2048 two-res-ex-takeover.bin
  cut "$snap/takeover.img" 0 1024 two-ls-hostB-dead.bin
  cut "$snap/sh-dead-cleared.img" $((2 * M)) 2048 two-res-sh-dead-cleared.bin
}

IFS=, read -r -a groups <<<"$SCENARIOS"
for g in "${groups[@]}"; do
  case "$g" in
    direct) direct ;;
    S) scenario_S ;;
    R) scenario_R ;;
    T) scenario_T ;;
    *) echo "make-vectors: unknown scenario $g (direct, S, R, T, all)" >&2; exit 2 ;;
  esac
done

# Compare with the repository's copies: identical, or the differing byte offsets as ranges.
same=0; differ=0
for out in "$OUT"/*.bin; do
  name=$(basename "$out")
  if [ ! -e "$VEC/$name" ]; then echo "new       $name"; differ=$((differ + 1)); continue; fi
  if cmp -s "$out" "$VEC/$name"; then echo "identical $name"; same=$((same + 1)); continue; fi
  differ=$((differ + 1))
  ranges=$( (cmp -l "$out" "$VEC/$name" 2>/dev/null || true) | awk '
    { o = $1 - 1; if (n && o == last + 1) { last = o; next } if (n) r = (r == "" ? "" : r ",") range(); start = o; last = o; n = 1 }
    function range() { return start == last ? start : start "-" last }
    END { if (n) r = (r == "" ? "" : r ",") range(); print r }')
  echo "differs   $name (bytes $ranges)"
done
echo "make-vectors: $same identical, $differ different"
if [ "$UPDATE" = 1 ]; then cp "$OUT"/*.bin "$VEC"/; echo "make-vectors: copied into $VEC"; fi
