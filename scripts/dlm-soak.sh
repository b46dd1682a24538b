#!/bin/bash
# The DLM simulator soak (docs/dlm.md §9): batches of 4 seeds × 5 hosts × 3 resources from
# FIRST_SEED until TARGET simulated lock operations; one summary line per batch in LOG.
#
#   bash scripts/dlm-soak.sh [FIRST_SEED] [TARGET] [LOG]     (after pnpm build)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-40001}
target=${2:-1000000}
log=${3:-dlm-soak.log}
first=$seed
total=0
start=$(date +%s)
while [ "$total" -lt "$target" ]; do
  out=$(node packages/core/dist/sim/main.js --workload dlm --seeds 4 --seed "$seed" --hosts 5 --resources 3 --ops 100 2>&1)
  line=$(echo "$out" | head -1)
  echo "$seed $line" >> "$log"
  case "$line" in *"violations 0,"*) ;; *) echo "violation or failure at seed $seed: $line" >&2; exit 1 ;; esac
  ops=$(echo "$line" | sed -n 's/.*simulated lock operations \([0-9]*\).*/\1/p')
  total=$((total + ${ops:-0}))
  seed=$((seed + 4))
done
echo "done: $total simulated lock operations, seeds $first..$((seed - 1)), 0 violations, $(( $(date +%s) - start )) s" | tee -a "$log"
