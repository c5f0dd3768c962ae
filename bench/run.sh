#!/usr/bin/env bash
# Runs the micro-benchmarks and the replay benchmark on a release build.
# usage: bench/run.sh BUILD_DIR   (make bench does: bench/run.sh build/release)
set -euo pipefail
build=${1:-build/release}
out=bench/out
mkdir -p "$out"

echo "== micro-benchmarks ($build/bench/precall_bench)"
"$build/bench/precall_bench" --benchmark_min_time=1 --benchmark_counters_tabular=true \
  | tee "$out/micro.txt"

echo "== replay: 1,000,000 samples from 10,000 devices against 100 rules"
if [ ! -f "$out/replay/input.jsonl" ]; then
  python3 bench/gen_replay.py "$out/replay" --rules 100 --devices 10000 --samples 1000000
fi
/usr/bin/time -v "$build/gateway/precall" replay --rules "$out/replay/rules.yaml" \
  --input "$out/replay/input.jsonl" > "$out/replay/events.jsonl" 2> "$out/replay/time.txt"
grep -E "^replay:|Elapsed|Maximum resident|User time|System time" "$out/replay/time.txt"
python3 - "$out/replay/time.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"(\d+) samples processed", text)
user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
parts = [float(p) for p in wall.split(":")]
secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
samples = int(m.group(1))
print(f"replay throughput: {samples / secs:,.0f} samples/s wall, "
      f"{samples / (user + sys_):,.0f} samples/s per CPU second")
PY
