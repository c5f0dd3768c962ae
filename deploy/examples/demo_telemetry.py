#!/usr/bin/env python3
"""Writes a recorded day-shift of telemetry for a small fleet, with a few
faults planted, as replay input (JSON lines {"topic", "payload"}): the input
of `make demo` until the live simulator takes over.

usage: demo_telemetry.py OUT.jsonl [--machines 30] [--minutes 90]
"""
import argparse
import json
import random

MODELS = ["EX200", "WL300", "CP45"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--machines", type=int, default=30)
    ap.add_argument("--minutes", type=int, default=90)
    args = ap.parse_args()
    rng = random.Random(2026)
    start = 1795849200000  # 2026-11-28 07:00 UTC, shift start
    machines = [(f"{m.lower()}-{i:04d}", m) for i in range(args.machines) for m in [MODELS[i % 3]]]
    # Planted faults: (device index, kind, onset minute)
    faults = {3: ("overheat", 20), 7: ("oil_loss", 35), 6: ("dtc", 15), 2: ("silent", 40),
              9: ("hydraulic_leak", 25), 13: ("dtc", 50)}
    with open(args.out, "w") as out:
        for second in range(0, args.minutes * 60, 10):  # every machine reports every 10 s
            for idx, (device, model) in enumerate(machines):
                kind, onset = faults.get(idx, (None, 10**9))
                minute = second / 60
                if kind == "silent" and minute >= onset:
                    continue
                faulty = minute >= onset
                coolant = 86 + rng.gauss(0, 1.5)
                oil = 320 + rng.gauss(0, 10)
                hyd = 92 + rng.gauss(0, 0.3)
                if kind == "overheat" and faulty:
                    coolant += min(30, (minute - onset) * 3)
                if kind == "oil_loss" and faulty:
                    oil = max(40, oil - (minute - onset) * 60)
                if kind == "hydraulic_leak" and faulty:
                    hyd -= (minute - onset) * 1.5
                dtc = []
                if kind == "dtc" and faulty and minute < onset + 20:
                    dtc = ["SPN110.FMI0"] if idx == 6 else ["SPN127.FMI1"]
                payload = {
                    "ts": start + second * 1000 + idx * 37,
                    "seq": second // 10 + 1,
                    "model": model,
                    "labels": {"site": "north" if idx % 2 else "harbour"},
                    "metrics": {
                        "coolant_temp_c": round(coolant, 1),
                        "oil_pressure_kpa": round(oil, 1),
                        "engine_rpm": 1500 + rng.randint(-50, 50),
                        "battery_v": round(13.8 + rng.gauss(0, 0.05), 2),
                        "hydraulic_oil_level_pct": round(hyd, 1),
                        "engine_hours": round(4200 + idx * 13 + second / 3600, 2),
                    },
                    "dtc": dtc,
                }
                topic = f"fleet/acme/{device}/telemetry"
                out.write(json.dumps({"topic": topic, "payload": payload}, separators=(",", ":")))
                out.write("\n")


if __name__ == "__main__":
    main()
