#!/usr/bin/env bash
# make demo: checks the example rules and catalog, then replays a recorded
# shift of a 30-machine fleet with planted faults and prints each case as it
# opens. (The live demo with broker, gateway and simulator replaces this once
# `precall serve` exists.)
set -euo pipefail
precall=${1:?usage: demo.sh PATH_TO_PRECALL}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== precall check: the example rules and fault-code catalog"
"$precall" check --rules "$here/rules.yaml" --devices "$here/devices.yaml"
echo
echo "== precall replay: 90 minutes of telemetry from 30 machines, faults planted"
python3 "$here/demo_telemetry.py" "$work/shift.jsonl"
"$precall" replay --rules "$here/rules.yaml" --devices "$here/devices.yaml" \
  --input "$work/shift.jsonl" | python3 "$here/show_cases.py"
