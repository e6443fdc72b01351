#!/usr/bin/env bash
# The device check for a lent CUDA machine (one call of the `device` tool, about 8 minutes):
#  1. vislat_bench --profile ${BENCH_PROFILE:-paper} --compare: every workload at 32x32x6 and 48x48x8, peak VRAM;
#  2. the smoke pipeline P1-P6 on CUDA (proves the machinery; smoke never claims a gate).
# Packages: device_env.sh (carry .dev). Results land in $OUT.
set -u
source "$(dirname "$0")/device_env.sh"; export VISLAT_RUNS=/tmp/runs
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader
t0=$(date +%s)
timeout ${BENCH_S:-330} bash -c "$(declare -f cli); cli bench vislat_bench --profile ${BENCH_PROFILE:-paper} --compare --out $OUT/bench_paper_cuda.json" 2>&1 | tee $OUT/bench.log
echo "bench: rc=${PIPESTATUS[0]} $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
timeout ${SMOKE_S:-150} bash -c "$(declare -f cli); cli cli vislat_run --profile smoke --upto P6 device=${SMOKE_DEVICE:-cuda}" > $OUT/smoke.log 2>&1
echo "smoke P1-P6 on cuda: rc=$? $(( $(date +%s) - t0 )) s"; grep -a -o -E "P[0-9]: *[0-9.]* s  trained|Traceback|[A-Za-z]*Error.*|vislat_run: .*" $OUT/smoke.log | tail -12
