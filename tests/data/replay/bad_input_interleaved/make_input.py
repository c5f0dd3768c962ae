#!/usr/bin/env python3
"""Writes input.jsonl for bad_input_clean and bad_input_interleaved.

bad_input_clean/input.jsonl holds only valid lines; bad_input_interleaved/
input.jsonl holds the same valid lines in the same order with a line for every
reject reason (and malformed lines) in between. Every bad line is built so that,
were it accepted, the expected cases would change (it ends d1's pending
overheat with temp 50, opens low_batt with battery 5, resolves a case early,
...). Both scenarios therefore share one expected.jsonl.

Run from anywhere: python3 make_input.py (rewrites both files).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CLEAN = os.path.join(os.path.dirname(HERE), "bad_input_clean", "input.jsonl")
DIRTY = os.path.join(HERE, "input.jsonl")

MAX_PAYLOAD = 64 * 1024
DAY_MS = 24 * 3600 * 1000


def topic(device, tenant="acme"):
    return f"fleet/{tenant}/{device}/telemetry"


def line(t, payload):
    """A well-formed input line; payload is an object/array, or a str of raw bytes."""
    return json.dumps({"topic": t, "payload": payload}, separators=(", ", ": "))


def padded(sample, size):
    """The raw JSON text of `sample` plus an unknown "pad" field, exactly `size` bytes."""
    head = json.dumps(sample)[:-1] + ', "pad": "'
    tail = '"}'
    text = head + "x" * (size - len(head) - len(tail)) + tail
    assert len(text.encode()) == size
    json.loads(text)
    return text


def main():
    clean = []  # valid lines: both files
    dirty = []  # the interleaved file

    def ok(text):
        clean.append(text)
        dirty.append(text)

    def bad(text):
        dirty.append(text)

    # A d1 sample that, if accepted, ends d1's pending overheat (temp 50) and
    # opens low_batt for d1 (battery 5).
    disrupt = {"ts": 1012000, "metrics": {"temp": 50, "battery": 5}}

    # L1, L2
    ok(line(topic("d1"), {"ts": 1000000, "seq": 1, "model": "EX200", "labels": {"site": "north"},
                          "metrics": {"temp": 95, "battery": 80}}))
    ok(line(topic("d2"), {"ts": 1000000, "seq": 1, "model": "EX200", "metrics": {"battery": 15}}))

    bad("")  # empty lines are ignored
    # too_many_metrics per device: d3 reports 4 x 256 distinct names (256 per
    # sample and 1024 per device are both still allowed), then one more name:
    # battery 5 would open low_batt for d3.
    for k in range(4):
        names = {f"m{k * 256 + i:04d}": i for i in range(256)}
        bad(line(topic("d3"), {"ts": 1000000, "metrics": names}))
    bad(line(topic("d3"), {"ts": 1000000, "metrics": {"battery": 5}}))

    # L3: the payload is exactly 64 KiB (allowed; > 64 KiB is too_large). Were
    # it rejected, overheat would never open.
    ok(line(topic("d1"), padded({"ts": 1010000, "seq": 2, "fw": "2.1", "metrics": {"temp": 105}},
                                MAX_PAYLOAD)))

    # clock_skew: more than 24 h ahead of the clock (1010000). seq 100 must not
    # be remembered either (else d1's seq 3..5 would be duplicates).
    bad(line(topic("d1"), {"ts": 1010000 + DAY_MS + 1, "seq": 100, "metrics": {"temp": 50}}))
    # out_of_order: older than d1's last accepted sample (1010000).
    bad(line(topic("d1"), {"ts": 1005000, "seq": 50, "metrics": {"temp": 50, "battery": 5}}))
    # duplicate: seq 2 again.
    bad(line(topic("d1"), {"ts": 1013000, "seq": 2, "metrics": {"temp": 50, "battery": 5}}))

    # bad_topic
    for t in ["fleet/acme/d1/telemetry/extra", "fleet/acme/d1", "fleet/acme/d1/telemetryx",
              "fleet/acme/d1/metrics", "Fleet/acme/d1/telemetry", "/fleet/acme/d1/telemetry",
              "fleet/acme/d 1/telemetry", "fleet//d1/telemetry", "fleet/ac+me/d1/telemetry",
              "fleet/acme/" + "d" * 65 + "/telemetry", "fleet/" + "t" * 65 + "/d1/telemetry",
              "fleet/acme/d1/telemetry/", "", "fleet/acme/d\u00e9/telemetry"]:
        bad(line(t, disrupt))

    # bad_json (raw payload bytes)
    bad(line(topic("d1"), '{"ts": 1012000, "metrics": {"temp": 50, "battery": 5}'))
    bad(line(topic("d1"), '{"ts": 1012000, "metrics": {"temp": 50, "battery": 5}} trailing'))
    bad(line(topic("d1"), "not json"))
    bad(line(topic("d1"), ""))
    # Not JSON either, but reported as non_finite (README, "The life of a message").
    bad(line(topic("d1"), '{"ts": 1012000, "metrics": {"temp": NaN, "battery": 5}}'))

    # bad_field
    for sample in [
        {"ts": "1012000", "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000.5, "metrics": {"temp": 50, "battery": 5}},
        {"ts": -5, "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000, "seq": -1, "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000, "seq": "7", "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000, "model": 7, "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000, "labels": {"site": 5}, "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000, "labels": ["north"], "metrics": {"temp": 50, "battery": 5}},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5, "rpm": "fast"}},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5, "x": None}},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5, "x": [1]}},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5, "9lives": 1}},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5, "oil-temp": 1}},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5, "m" * 65: 1}},
        {"ts": 1012000, "metrics": [50, 5]},
        {"ts": 1012000, "metrics": {"temp": 50, "battery": 5}, "dtc": "P0217"},
    ]:
        bad(line(topic("d1"), sample))
    bad(line(topic("d1"), 42))
    bad(line(topic("d1"), [1, 2]))

    # too_large: one byte over 64 KiB
    bad(line(topic("d1"), padded(disrupt, MAX_PAYLOAD + 1)))
    # too_many_metrics in one sample: 257
    many = {f"n{i:03d}": i for i in range(255)}
    many.update({"temp": 50, "battery": 5})
    assert len(many) == 257
    bad(line(topic("d1"), {"ts": 1012000, "metrics": many}))
    # non_finite (1e999 overflows to infinity); -inf would make temp > 100 false.
    bad(line(topic("d1"), '{"ts": 1012000, "metrics": {"temp": -1e999, "battery": 5}}'))
    bad('{"topic": "fleet/acme/d1/telemetry", "payload": {"ts": 1012000, "metrics": {"temp": -1e999, "battery": 5}}}')
    # d2's low_batt is open until 1030000: battery +inf would resolve it early.
    bad(line(topic("d2"), '{"ts": 1012000, "metrics": {"battery": 1e999}}'))

    # malformed lines (skipped with a message on stderr)
    bad("this is not json")
    bad('{"topic": "fleet/acme/d1/telemetry", "payload": {"ts": 1012000, "metrics": {"temp": 50, "battery": 5}}')
    bad(json.dumps({"topic": 42, "payload": disrupt}))
    bad(json.dumps({"payload": disrupt}))
    bad(json.dumps({"topic": topic("d1")}))
    bad(json.dumps([topic("d1"), disrupt]))
    bad(json.dumps(topic("d1")))
    bad("")
    bad("   ")

    # L4: P0217 enters d1's active set
    ok(line(topic("d1"), {"ts": 1020000, "seq": 3, "metrics": {"temp": 106}, "dtc": ["P0217"]}))
    # Each would clear d1's dtc set early if accepted.
    bad(line(topic("d1"), {"ts": 1021000, "seq": 3, "dtc": []}))  # duplicate
    bad(line(topic("d1"), {"ts": 1021000, "dtc": [5]}))  # bad_field
    bad(line(topic("d1"), {"ts": 1021000, "dtc": {"P0217": True}}))  # bad_field
    # d2 duplicate (seq 1 again): battery 50 would resolve low_batt at 1021000.
    bad(line(topic("d2"), {"ts": 1021000, "seq": 1, "metrics": {"battery": 50}}))
    # bad_json after a valid sample of a batch: the whole batch is dropped.
    bad(line(topic("d2"), '[{"ts": 1022000, "metrics": {"battery": 50}}, {"ts": '))

    # L5: a batch for d2. In the interleaved file it also holds a duplicate
    # (seq 2 again) and a sample with a bad field; only those are dropped.
    good = [{"ts": 1025000, "seq": 2, "metrics": {"battery": 14}},
            {"ts": 1030000, "seq": 3, "metrics": {"battery": 25}}]
    clean.append(line(topic("d2"), good))
    dirty.append(line(topic("d2"), [good[0],
                                     {"ts": 1026000, "seq": 2, "metrics": {"battery": 50}},
                                     {"ts": 1027000, "metrics": {"battery": 50, "temp": "x"}},
                                     good[1]]))

    # L6: overheat opens (pending since 1010000)
    ok(line(topic("d1"), {"ts": 1030000, "seq": 4, "metrics": {"temp": 107}}))
    # out_of_order for d2 (its last sample is 1030000): battery 5 would reopen.
    bad(line(topic("d2"), {"ts": 1029000, "seq": 10, "metrics": {"battery": 5}}))
    # L7, L8
    ok(line(topic("d1"), {"ts": 1040000, "seq": 5, "metrics": {"temp": 90}, "dtc": []}))
    bad(line(topic("d2"), {"ts": 1045000, "seq": 3, "metrics": {"battery": 5}}))  # duplicate
    ok(line(topic("d2"), {"ts": 1050000, "seq": 4, "metrics": {"battery": 10}}))
    bad("{")

    for path, lines in ((CLEAN, clean), (DIRTY, dirty)):
        with open(path, "w", encoding="utf-8") as f:
            for text in lines:
                f.write(text + "\n")
        print(f"{path}: {len(lines)} lines")


if __name__ == "__main__":
    main()
