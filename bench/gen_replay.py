#!/usr/bin/env python3
"""Generates the replay benchmark: a rules file with N rules (windows, `for`,
hysteresis, select, dtc and silent included) and a JSON-lines recording of S
samples from D devices, round-robin, one sample per device per second, ~200
bytes each, with a small share of samples that break a rule.

usage: gen_replay.py OUT_DIR [--rules 100] [--devices 10000] [--samples 1000000]
"""
import argparse
import os
import random

METRICS = ["coolant_temp_c", "oil_pressure_kpa", "hydraulic_pressure_bar", "battery_v",
           "fuel_level_pct", "engine_rpm", "engine_hours", "intake_temp_c"]
MODELS = ["EX200", "WL300", "CP45"]


def rules_yaml(count: int) -> str:
    shapes = [
        ("avg(coolant_temp_c, 1m) > 105 and engine_rpm > 800", "30s", "coolant_temp_c < 95"),
        ("min(oil_pressure_kpa, 30s) < 80 and engine_rpm > 600", "10s", None),
        ("delta(hydraulic_pressure_bar, 5m) < -40", "0s", None),
        ("max(battery_v, 10m) < 11.8", "1m", "battery_v > 12.4"),
        ("rate(fuel_level_pct, 2m) < -2", "0s", None),
        ("stddev(intake_temp_c, 1m) > 15", "30s", None),
        ("engine_rpm > 2400", "5s", None),
        ("count(engine_rpm, 1m) > 0 and avg(engine_rpm, 1m) < 300 and coolant_temp_c > 90", "0s", None),
    ]
    out = ["rules:"]
    for i in range(count):
        when, for_, clear = shapes[i % len(shapes)]
        model = MODELS[(i // len(shapes)) % len(MODELS)]
        out.append(f"  - name: rule_{i:04d}")
        out.append(f"    select: {{model: {model}}}")
        out.append(f"    when: {when}")
        out.append(f"    for: {for_}")
        if clear:
            out.append(f"    clear: {clear}")
        out.append("    severity: major")
        out.append(f"    diagnosis: \"benchmark rule {i}\"")
    out.append("  - name: dtc_engine")
    out.append("    when: dtc(\"SPN110.*\")")
    out.append("  - name: gone_quiet")
    out.append("    when: silent(15m)")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rules", type=int, default=100)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=1000000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "rules.yaml"), "w") as f:
        f.write(rules_yaml(args.rules))
    rng = random.Random(7)
    t0 = 1732260000000
    with open(os.path.join(args.out, "input.jsonl"), "w") as f:
        for n in range(args.samples):
            d = n % args.devices
            second = n // args.devices
            ts = t0 + second * 1000 + d % 1000
            hot = d % 100 == 0  # 1 % of devices run hot: EX200s among them open cases
            coolant = 108.0 + rng.random() if hot else 85.0 + rng.random() * 5
            line = (
                f'{{"topic":"fleet/bench/dev-{d:06d}/telemetry","payload":{{"ts":{ts},'
                f'"seq":{second + 1},"model":"{MODELS[d % 3]}","metrics":{{'
                f'"coolant_temp_c":{coolant:.1f},"oil_pressure_kpa":{300 + rng.random() * 20:.1f},'
                f'"engine_rpm":{1450 + (n % 100)},"battery_v":{12.6 + rng.random() * 0.2:.2f},'
                f'"fuel_level_pct":{80 - second * 0.01:.2f}}},"dtc":[]}}}}\n'
            )
            f.write(line)


if __name__ == "__main__":
    main()
