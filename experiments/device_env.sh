# Sourced by the device scripts (cuda_check.sh, p2_swap_screen.sh): on a lent CUDA machine, whose python3 has torch,
# the pure-Python packages vislat needs travel in .dev/site and PyWavelets as a cp312 wheel in .dev/whl (both
# ignored by git; carry .dev). SKIP_WHL=1 skips the wheel (a local dry run). `cli MODULE FUNCTION ARGS…` runs a
# console script from a file, because fastcore's call_parse reads sys.argv only when called from a script.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[ -n "${SKIP_WHL:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev/whl/*.whl || exit 1
export PYTHONPATH=$PWD:$PWD/.dev/site:/tmp/site PYTHONUNBUFFERED=1
cli() { printf 'from vislat.%s import %s\n%s()\n' $1 $2 $2 > /tmp/$2.py; python3 /tmp/$2.py "${@:3}"; }
