#!/usr/bin/env python3
"""`precall serve` under faults, against a real mosquitto: kill -9 while
publishing, a broker restart under load, SIGHUP rule reload, and bad input
of every reject reason over MQTT. Each test compares the case events the
service center receives on service/# with what `precall replay` computes
from the same telemetry (without wall-clock fields), so a lost fault
episode, a duplicate case or a gap in the event seq shows as a difference.

usage: durability_test.py --precall BIN
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import poll

PRECALL = None

RULES = """rules:
  - name: hot
    when: avg(temp, 10s) > 90
    for: 5s
    clear: temp < 60
    clear_for: 3s
    severity: critical
    diagnosis: "Coolant overheating"
    parts: [radiator]
  - name: oil_low
    when: oil < 100 and rpm > 600
    for: 2s
    severity: major
  - name: spike
    when: max(temp, 5s) - min(temp, 5s) > 40
"""
DEVICES = """default_dtc: {open_case: true, severity: warning, diagnosis: "Unlisted fault code"}
"""

CLOCK_FIELDS = {"opened_at", "updated_at", "resolved_at", "acknowledged_at", "id"}


def fleet(devices, samples):
    """Per device: the payload lines, in order; fault episodes that come and go."""
    out = {}
    base = 1_700_000_000_000
    for d in range(devices):
        lines = []
        for i in range(samples):
            phase = (i + d * 37) % 120
            temp = 100 if 30 <= phase < 60 else 50 + (i * 7 + d) % 20
            if phase == 80:
                temp = 99  # a spike
            oil = 50 if 90 <= phase < 100 else 300
            p = {"ts": base + i * 1000, "seq": i + 1,
                 "metrics": {"temp": temp, "oil": oil, "rpm": 1500}}
            if i % 40 == 0:
                p["dtc"] = ["SPN100.FMI1"] if (i // 40 + d) % 2 else []
            lines.append(json.dumps(p, separators=(",", ":")))
        out[f"fleet/acme/m{d:02d}/telemetry"] = lines
    return out


def replay_events(workdir, traffic, order):
    """What `precall replay` makes of the messages, in the given publish order."""
    path = os.path.join(workdir, "input.jsonl")
    with open(path, "w") as f:
        for topic, i in order:
            f.write(json.dumps({"topic": topic, "payload": json.loads(traffic[topic][i])}) + "\n")
    out = subprocess.run([PRECALL, "replay", "--rules", "rules.yaml", "--devices", "devices.yaml",
                          "--input", path], cwd=workdir, capture_output=True, text=True,
                         check=True)
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def per_device(events):
    """Per device: its events without clock fields, in seq order, each seq once."""
    seen, out = set(), {}
    for e in sorted(events, key=lambda e: e["seq"]):
        if e["seq"] in seen:
            continue
        seen.add(e["seq"])
        case = {k: v for k, v in e["case"].items() if k not in CLOCK_FIELDS}
        out.setdefault(case["device"], []).append((e["type"], case))
    return out


class Publisher:
    """One mosquitto_pub -l per device topic (QoS 1), fed line by line. A
    publisher that loses the broker is restarted and sends its device's lines
    again from the start: the gateway drops the repeats by seq."""

    def __init__(self, gw, topic, lines):
        self.gw, self.topic, self.lines = gw, topic, lines
        self.sent = 0  # lines handed to the current process
        self.proc = None

    def _start(self):
        self.proc = subprocess.Popen(
            ["mosquitto_pub", "-p", str(self.gw.port), "-q", "1", "-t", self.topic, "-l",
             "-i", "pub-" + self.topic.split("/")[2]],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def send_until(self, n):
        """Makes sure lines [0, n) were handed over, restarting on a lost broker."""
        while True:
            if self.proc is None or self.proc.poll() is not None:
                if not poll(self.gw._port_open, 30):
                    raise AssertionError("broker did not come back")
                self._start()
                self.sent = 0
            try:
                while self.sent < n:
                    self.proc.stdin.write((self.lines[self.sent] + "\n").encode())
                    self.proc.stdin.flush()
                    self.sent += 1
                return
            except (BrokenPipeError, OSError):
                self.proc = None

    def finish(self):
        """Closes stdin and waits until everything was published (PUBACKed)."""
        while True:
            self.send_until(len(self.lines))
            self.proc.stdin.close()
            if self.proc.wait(timeout=60) == 0:
                return
            self.proc = None  # the broker went away before the end: again


class DurabilityTest(unittest.TestCase):
    maxDiff = None

    def make_gateway(self, extra=""):
        d = tempfile.mkdtemp(prefix="precall-rules-")
        with open(os.path.join(d, "rules.yaml"), "w") as f:
            f.write(RULES)
        with open(os.path.join(d, "devices.yaml"), "w") as f:
            f.write(DEVICES)
        gw = harness.Gateway(PRECALL, os.path.join(d, "rules.yaml"),
                             os.path.join(d, "devices.yaml"), extra_config=extra)
        shutil.rmtree(d)  # the gateway has its copies
        self.addCleanup(gw.close)
        return gw

    @staticmethod
    def metric(gw, name):
        status, text, _ = gw.http("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def assert_same_as_replay(self, gw, traffic, order):
        expected = replay_events(gw.dir, traffic, order)
        self.assertGreater(len(expected), 20)
        want = len(expected)
        ok = poll(lambda: len({e["seq"] for e in gw.events()}) >= want, 60)
        got = gw.events()
        seqs = sorted({e["seq"] for e in got})
        if not ok:
            status, feed, _ = gw.http("GET", "/v1/changes?after=0&limit=1000")
            stored = [e["seq"] for e in feed["events"]] if status == 200 else feed
            missing = sorted(set(range(1, want + 1)) - set(seqs))
            self.fail(f"{len(seqs)} of {want} events on MQTT, missing {missing}; "
                      f"{len(stored)} in the store\n{gw.log()}")
        self.assertEqual(seqs, list(range(1, want + 1)), "event seq not gapless")
        self.assertEqual(per_device(got), per_device(expected), gw.log())

    def test_kill_9_while_publishing_loses_no_episode_and_duplicates_no_case(self):
        gw = self.make_gateway("storage: {path: ./data, journal_sync: strict, "
                               "checkpoint_interval: 1s}\n")
        traffic = fleet(devices=8, samples=300)
        pubs = [Publisher(gw, t, lines) for t, lines in traffic.items()]
        gw.start_broker()
        gw.start_subscriber()
        gw.start_gateway()
        for round_end in range(10, 301, 10):
            for p in pubs:
                p.send_until(round_end)
            if round_end == 210:
                # This time a periodic checkpoint round happened before the crash.
                self.assertTrue(poll(lambda: (self.metric(
                    gw, "precall_checkpointed_journal_seq") or 0) > 0, 30), gw.log())
            if round_end in (120, 210):
                gw.stop("gateway", signal.SIGKILL)  # mid-stream: publishers keep going
                gw.start_gateway(wait_subscribed=False)
        for p in pubs:
            p.finish()
        order = [(t, i) for i in range(300) for t in traffic]
        self.assert_same_as_replay(gw, traffic, order)
        self.assertEqual(gw.log().count("recovered"), 3, gw.log())
        last_start = gw.log().rsplit("recovered", 1)[1]
        self.assertNotIn("after seq 0 ", last_start)  # from the periodic checkpoint

    def test_broker_restart_under_load_reconnects_and_delivers_what_was_queued(self):
        gw = self.make_gateway()
        traffic = fleet(devices=6, samples=240)
        gw.start_broker()
        gw.start_subscriber()
        gw.start_gateway()

        # Load: benign telemetry from other machines keeps flowing through the
        # restart (what a publisher loses while the broker is away is not
        # compared; those machines never break a rule).
        stop = threading.Event()
        def noise():
            n = 0
            while not stop.is_set():
                lines = [json.dumps({"ts": 1_700_000_000_000 + (n + i) * 10,
                                     "metrics": {"temp": 50, "oil": 300, "rpm": 1500}})
                         for i in range(200)]
                n += 200
                subprocess.run(["mosquitto_pub", "-p", str(gw.port), "-q", "1", "-l",
                                "-t", f"fleet/acme/noise-{n % 7}/telemetry"],
                               input="\n".join(lines).encode(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
        t = threading.Thread(target=noise)
        t.start()
        try:
            # The fleet's first 120 samples reach the broker; the broker goes
            # down while it is still delivering them to the gateway.
            for p in [Publisher(gw, topic, lines[:120]) for topic, lines in traffic.items()]:
                p.finish()
            gw.stop("broker")  # SIGTERM: mosquitto saves the sessions and their queues
            gw.stop("sub")
            self.assertTrue(poll(lambda: "lost the connection" in gw.log(), 30), gw.log())
            gw.start_broker()
            gw.start_subscriber()
            self.assertTrue(poll(lambda: gw.log().count(" subscribed to ") >= 2, 60), gw.log())
        finally:
            stop.set()
            t.join(120)

        # Queued for the gateway's persistent session while it is down, across
        # another broker restart.
        self.assertEqual(gw.stop("gateway"), 0, gw.log())
        for p in [Publisher(gw, topic, lines[:180]) for topic, lines in traffic.items()]:
            p.finish()
        gw.stop("broker")
        gw.stop("sub")
        gw.start_broker()
        gw.start_subscriber()
        gw.start_gateway()
        for p in [Publisher(gw, topic, lines) for topic, lines in traffic.items()]:
            p.finish()
        order = [(t, i) for i in range(240) for t in traffic]
        self.assert_same_as_replay(gw, traffic, order)

    def test_sighup_reloads_valid_rules_and_refuses_invalid_ones(self):
        gw = self.make_gateway()
        gw.start_broker()
        gw.start_subscriber()
        gw.start_gateway()
        rules_path = os.path.join(gw.dir, "rules.yaml")
        sample = lambda ts, temp: json.dumps({"ts": ts, "metrics": {"temp": temp}})

        gw.publish("fleet/acme/r1/telemetry", sample(1000, 75))
        with open(rules_path, "w") as f:
            f.write("rules:\n  - name: warm\n    when: temp > 70\n    severity: info\n")
        gw.procs["gateway"].send_signal(signal.SIGHUP)
        self.assertTrue(poll(lambda: "reloaded 1 rules" in gw.log(), 30), gw.log())
        gw.publish("fleet/acme/r1/telemetry", sample(2000, 75))
        self.assertTrue(poll(lambda: any(e["case"]["rule"] == "warm" for e in gw.events())),
                        gw.log())

        with open(rules_path, "w") as f:
            f.write("rules:\n  - name: warm\n    when: temp >> 70\n")
        gw.procs["gateway"].send_signal(signal.SIGHUP)
        self.assertTrue(poll(lambda: "reload refused" in gw.log(), 30), gw.log())
        self.assertIn("rules.yaml:3:", gw.log())  # the diagnostic, located
        gw.publish("fleet/acme/r2/telemetry", sample(3000, 75))  # the old rules still run
        self.assertTrue(poll(lambda: any(e["case"]["device"] == "r2" for e in gw.events())),
                        gw.log())
        status, metrics, _ = gw.http("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('precall_rule_reloads_total{result="ok"} 1', metrics)
        self.assertIn('precall_rule_reloads_total{result="error"} 1', metrics)

    def test_a_changed_severity_reaches_the_active_cases_with_an_event(self):
        # CONTRACT §3: `updated` when "occurrences or severity changed". At a
        # reload, and at a start with rules edited while the gateway was down.
        gw = self.make_gateway()
        rules_path = os.path.join(gw.dir, "rules.yaml")
        rule = "rules:\n  - name: warm\n    when: temp > 70\n    severity: {}\n"
        with open(rules_path, "w") as f:
            f.write(rule.format("info"))
        gw.start_broker()
        gw.start_subscriber()
        gw.start_gateway()
        gw.publish("fleet/acme/s1/telemetry", json.dumps({"ts": 1000, "metrics": {"temp": 75}}))
        self.assertTrue(poll(lambda: len(gw.events()) == 1), gw.log())

        with open(rules_path, "w") as f:
            f.write(rule.format("critical"))
        gw.procs["gateway"].send_signal(signal.SIGHUP)
        self.assertTrue(poll(lambda: len(gw.events()) == 2), gw.log())
        self.assertIn("SIGHUP: 1 active case took a new severity", gw.log())

        self.assertEqual(gw.stop("gateway"), 0)
        with open(rules_path, "w") as f:
            f.write(rule.format("major"))
        gw.start_gateway()
        self.assertTrue(poll(lambda: len(gw.events()) == 3), gw.log())
        self.assertIn("start: 1 active case took a new severity", gw.log())

        events = sorted(gw.events(), key=lambda e: e["seq"])
        self.assertEqual([(e["type"], e["case"]["severity"], e["case"]["occurrences"])
                          for e in events],
                         [("opened", "info", 1), ("updated", "critical", 1),
                          ("updated", "major", 1)])
        self.assertEqual(len({e["case"]["id"] for e in events}), 1)
        status, metrics, _ = gw.http("GET", "/metrics")
        self.assertIn('precall_cases_active{severity="major"} 1', metrics)
        self.assertIn('precall_cases_active{severity="info"} 0', metrics)

    def test_bad_input_of_every_kind_is_counted_and_the_next_message_still_works(self):
        gw = self.make_gateway()
        gw.start_broker()
        gw.start_subscriber()
        gw.start_gateway()
        now = int(time.time() * 1000)
        bad = {
            "bad_topic": ("fleet/acme/" + "x" * 65 + "/telemetry", '{"metrics":{"temp":1}}'),
            "bad_json": ("fleet/acme/b1/telemetry", '{"ts":'),
            "bad_field": ("fleet/acme/b1/telemetry", '{"ts":"soon","metrics":{"temp":1}}'),
            "too_large": ("fleet/acme/b1/telemetry",
                          '{"metrics":{"temp":1},"labels":{"x":"' + "a" * 70000 + '"}}'),
            "too_many_metrics": ("fleet/acme/b1/telemetry", json.dumps(
                {"metrics": {f"m{i}": i for i in range(257)}})),
            "non_finite": ("fleet/acme/b1/telemetry", '{"metrics":{"temp":1e999}}'),
            "clock_skew": ("fleet/acme/b1/telemetry",
                           json.dumps({"ts": now + 25 * 3600 * 1000, "metrics": {"temp": 1}})),
        }
        valid = 0
        for reason, (topic, payload) in bad.items():
            gw.publish(topic, payload)
            valid += 1
            gw.publish("fleet/acme/ok/telemetry", json.dumps(
                {"seq": valid, "ts": now + valid, "metrics": {"temp": 100 + valid}}))
        gw.publish("fleet/acme/ok/telemetry", json.dumps(
            {"seq": valid, "ts": now + valid, "metrics": {"temp": 1}}))  # duplicate seq

        metric = lambda name: self.metric(gw, name)
        for reason in list(bad) + ["duplicate"]:
            with self.subTest(reason=reason):
                self.assertTrue(poll(lambda: metric(
                    f'precall_messages_rejected_total{{reason="{reason}"}}') == 1, 30), gw.log())
        # Every valid message after a bad one was evaluated, and the device
        # shows the last valid value.
        self.assertEqual(metric("precall_samples_processed_total"), len(bad))
        status, device, _ = gw.http("GET", "/v1/devices/acme/ok")
        self.assertEqual(status, 200, device)
        self.assertEqual(device["metrics"]["temp"], 100 + len(bad))
        self.assertEqual(gw.procs["gateway"].poll(), None)  # still running


def main():
    global PRECALL
    ap = argparse.ArgumentParser()
    ap.add_argument("--precall", required=True)
    args, rest = ap.parse_known_args()
    PRECALL = os.path.abspath(args.precall)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
