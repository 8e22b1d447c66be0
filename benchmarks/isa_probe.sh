#!/usr/bin/env bash
# Does the CPU's instruction set change a seeded run's digits? The first epoch of results/camvid's dice/seed0, retrained
# from its run.json (benchmarks/retrain_check.py's child) under oneDNN's default ISA, capped at AVX2 and AVX512_CORE,
# and with oneDNN off; the record: loss 0.6241759061813354, mIoU 0.3584308922290802. On an AMD EPYC with AVX-512
# (2026-12-05) AVX2 and the default (AVX-512) gave different losses (0.62407494 vs 0.62415761), oneDNN off a third;
# idle (2026-12-06), AVX2 took 1.08x the default's wall time and oneDNN off 2.03x (55.3 s against 27.2 s).
# Each line also gives its wall seconds (a fresh process: import, data, one epoch) and its ratio to the default's:
# the speed the other arithmetic would cost, measured side by side.
#     bash benchmarks/isa_probe.sh [CamVid root]        (about 1 min a line, idle)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${P8SEG_CAMVID:-../shared/data/camvid}}"
export TF_CPP_MIN_LOG_LEVEL=2
CHILD=$(python -c "import runpy; print(runpy.run_path('benchmarks/retrain_check.py', run_name='probe')['CHILD'])")
grep -m1 "model name" /proc/cpuinfo || true
first=""
for setting in "ONEDNN_DEFAULT=1" "ONEDNN_MAX_CPU_ISA=AVX2" "ONEDNN_MAX_CPU_ISA=AVX512_CORE" "TF_ENABLE_ONEDNN_OPTS=0"; do
  out=$(mktemp -d)
  start=$(date +%s.%N)
  line=$(env "$setting" python -c "$CHILD" results/camvid/runs/dice/seed0/run.json "$data" "$out" 1 2>/dev/null | tail -1 | cut -c1-90)
  secs=$(python -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  first=${first:-$secs}
  echo "$setting: $line ($secs s, $(python -c "print(f'{$secs / $first:.2f}')")x the default's)"
  rm -rf "$out"
done
