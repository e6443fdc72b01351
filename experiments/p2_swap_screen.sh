#!/usr/bin/env bash
# P2 under the cpu profile with the argument-swap remedies, on a lent GPU (one device call): each variant trains P2
# (and P1 where the variant changes P1's inputs) and prints the final R@1, hard R@1, swap accuracy and cosine gap.
# Carry .dev (packages: device_env.sh; .dev/runs holds the cpu run's P0 and P1 to reuse).
set -u
source "$(dirname "$0")/device_env.sh"; export VISLAT_RUNS=${RUNS:-$PWD/.dev/runs}
i=0
for v in ${VARIANTS:-"contrastive.swap_weight=4:110" "latent.coord_channels=true:150" "latent.coord_channels=true,contrastive.swap_weight=4:90"}; do
  i=$((i+1)); sets=${v%:*}; t0=$(date +%s)
  timeout ${v##*:} bash -c "$(declare -f cli); cli cli vislat_run --profile ${PROFILE:-cpu} --upto P2 device=${DEVICE:-cuda} ${sets//,/ }" > $OUT/v$i.log 2>&1
  echo "== $sets: rc=$? $(( $(date +%s) - t0 )) s"; grep -a -o -E "P[0-9]: *[0-9.]* s  trained|reused from [^ ]*|Traceback|[A-Za-z]*Error.*" $OUT/v$i.log | head -5
  run=$(grep -a -o "run [^ ;]*" $OUT/v$i.log | head -1 | cut -d' ' -f2)
  python3 - "$run/P2/metrics.csv" <<'PY'
import csv, sys
try: rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("acc_swap")]
except OSError as e: print("  no P2 metrics:", e); sys.exit()
for r in rows[-3:]: print("  step", r["step"], *(f"{k} {float(r[k]):.3f}" for k in ("r1", "hard_r1", "acc_swap", "acc_relation", "cos_gap")))
PY
done
