#!/usr/bin/env python3
"""End-to-end tests of `precall serve` against a real mosquitto.

Each test starts its own mosquitto on a free loopback port in a temporary
directory, runs the real `precall` binary with a config written there,
publishes with mosquitto_pub and listens on service/# with mosquitto_sub,
exactly as a user would. Every wait polls with a deadline.

usage: serve_test.py --precall BIN --data tests/data
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness
from harness import poll

PRECALL = None
DATA = None

# Golden scenarios whose outcome does not depend on the gateway clock (which is
# wall time when serving and the data clock when replaying): no silent(), no
# reopen_within, no clock_skew, no samples without ts. SCENARIOS=a,b picks some.
LIVE_SCENARIOS = os.environ.get('SCENARIOS', '').split(',') if os.environ.get('SCENARIOS') else ["for_pending_interrupted", "metric_gating", "select_model_label",
                  "one_active_case", "clear_default", "clear_hysteresis", "windows",
                  "three_valued", "dtc_match", "catalog", "catalog_open_case_false",
                  "two_tenants", "batch_order", "seq_duplicates", "booleans"]

# Fields that carry the gateway clock or the global numbering.
CLOCK_FIELDS = {"opened_at", "updated_at", "resolved_at", "acknowledged_at", "id"}


def replay(scenario_dir):
    args = [PRECALL, "replay", "--rules", "rules.yaml", "--input", "input.jsonl"]
    if os.path.exists(os.path.join(scenario_dir, "devices.yaml")):
        args += ["--devices", "devices.yaml"]
    out = subprocess.run(args, cwd=scenario_dir, capture_output=True, text=True, check=True)
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def per_device(events):
    """Per (tenant, device): the events without clock fields, in order, deduplicated
    by seq (MQTT delivery is at least once)."""
    seen = set()
    out = {}
    for e in sorted(events, key=lambda e: e["seq"]):
        if e["seq"] in seen:
            continue
        seen.add(e["seq"])
        case = {k: v for k, v in e["case"].items() if k not in CLOCK_FIELDS}
        out.setdefault((case["tenant"], case["device"]), []).append((e["type"], case))
    return out


class ServeTest(unittest.TestCase):
    maxDiff = None

    def test_live_golden_scenarios_open_the_same_cases_as_replay(self):
        for name in LIVE_SCENARIOS:
            with self.subTest(scenario=name):
                d = os.path.join(DATA, "replay", name)
                expected = per_device(replay(d))
                devices = os.path.join(d, "devices.yaml")
                gw = harness.Gateway(PRECALL, os.path.join(d, "rules.yaml"),
                             devices if os.path.exists(devices) else None)
                try:
                    gw.start_broker()
                    gw.start_subscriber()
                    gw.start_gateway()
                    for line in open(os.path.join(d, "input.jsonl")):
                        if not line.strip():
                            continue
                        msg = json.loads(line)
                        payload = msg["payload"]
                        if not isinstance(payload, str):
                            payload = json.dumps(payload)
                        gw.publish(msg["topic"], payload)
                    want = sum(len(v) for v in expected.values())
                    poll(lambda: len({e["seq"] for e in gw.events()}) >= want, 30)
                    got = per_device(gw.events())
                    self.assertEqual(got, expected, gw.log())
                    seqs = sorted({e["seq"] for e in gw.events()})
                    self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
                finally:
                    gw.close()

    def test_restart_keeps_cases_and_numbering(self):
        rules = os.path.join(DATA, "replay", "one_active_case", "rules.yaml")
        gw = harness.Gateway(PRECALL, rules)
        try:
            gw.start_broker()
            gw.start_subscriber()
            gw.start_gateway()
            first = [json.loads(l) for l in open(os.path.join(
                DATA, "replay", "one_active_case", "input.jsonl")) if l.strip()]
            for msg in first:
                gw.publish(msg["topic"], json.dumps(msg["payload"]))
            expected = len(replay(os.path.join(DATA, "replay", "one_active_case")))
            self.assertTrue(poll(lambda: len({e["seq"] for e in gw.events()}) >= expected))
            self.assertEqual(gw.stop("gateway"), 0, gw.log())  # SIGTERM: clean exit
            before = {e["seq"] for e in gw.events()}
            gw.start_gateway()
            self.assertIn(f"{len({e['case']['id'] for e in gw.events()})} cases", gw.log())
            # Same inputs again with later timestamps: the device's active case
            # (if any) is updated, nothing is numbered twice.
            for msg in first:
                p = dict(msg["payload"])
                p["ts"] = p["ts"] + 10_000_000
                p.pop("seq", None)
                gw.publish(msg["topic"], json.dumps(p))
            self.assertTrue(poll(lambda: len({e["seq"] for e in gw.events()}) > len(before)))
            seqs = sorted({e["seq"] for e in gw.events()})
            self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
            ids = {}
            for e in gw.events():
                ids.setdefault(e["case"]["id"], set()).add(
                    (e["case"]["tenant"], e["case"]["device"], e["case"]["rule"]))
            for case_id, subjects in ids.items():
                self.assertEqual(len(subjects), 1, f"id {case_id} reused for {subjects}")
        finally:
            gw.close()

    def test_topics_dropped_from_the_config_are_unsubscribed(self):
        # The session is persistent: a filter of the last configuration stays
        # with the broker until unsubscribed, and where it overlaps a new one
        # every message would arrive twice (and a sample without seq count twice).
        rules = os.path.join(DATA, "replay", "windows", "rules.yaml")
        gw = harness.Gateway(PRECALL, rules)
        config_path = os.path.join(gw.dir, "precall.yaml")

        def set_topics(topics):
            with open(config_path) as f:
                text = f.read()
            text = re.sub(r"client_id: precall-it(, topics: \[[^]]*\])?",
                          f"client_id: precall-it, topics: {json.dumps(topics)}", text)
            with open(config_path, "w") as f:
                f.write(text)

        def processed():
            text = gw.http("GET", "/metrics")[1]
            m = re.search(r"^precall_samples_processed_total (\S+)$", text, re.M)
            return float(m.group(1)) if m else -1

        try:
            gw.start_broker()
            set_topics(["fleet/#", "fleet/+/+/telemetry", "other/#"])
            gw.start_gateway()
            self.assertIn("warning: broker.topics fleet/# and fleet/+/+/telemetry overlap",
                          gw.log())
            self.assertEqual(gw.stop("gateway"), 0, gw.log())
            set_topics(["fleet/+/+/telemetry"])
            gw.start_gateway()
            self.assertTrue(poll(lambda: "unsubscribed from fleet/#, other/#" in gw.log()),
                            gw.log())
            self.assertEqual(gw.log().count(" overlap"), 1, gw.log())
            gw.publish("fleet/acme/d1/telemetry", '{"metrics":{"x":1}}')
            gw.publish("fleet/acme/d1/telemetry", '{"metrics":{"x":2}}')
            # One device, one worker, in order: once x is 2, every copy of the
            # first message was processed too.
            def second_seen():
                status, device, _ = gw.http("GET", "/v1/devices/acme/d1")
                return status == 200 and device["metrics"].get("x") == 2
            self.assertTrue(poll(second_seen))
            self.assertEqual(processed(), 2)
            # The next start has nothing stale left to remove.
            self.assertEqual(gw.stop("gateway"), 0, gw.log())
            gw.start_gateway()
            self.assertEqual(gw.log().count("unsubscribed from"), 1, gw.log())
        finally:
            gw.close()

    def test_a_broker_it_cannot_reach_is_logged_and_waited_for(self):
        rules = os.path.join(DATA, "replay", "windows", "rules.yaml")
        gw = harness.Gateway(PRECALL, rules)
        try:
            gw.start_gateway(wait_subscribed=False)  # no broker yet
            self.assertTrue(poll(lambda: f"MQTT: cannot connect to tcp://127.0.0.1:{gw.port}: "
                                 in gw.log()), gw.log())
            gw.start_broker()
            self.assertTrue(poll(lambda: " subscribed to " in gw.log()), gw.log())
        finally:
            gw.close()

    def test_invalid_config_exits_1_with_located_diagnostics(self):
        d = tempfile.mkdtemp(prefix="precall-cfg-")
        try:
            with open(os.path.join(d, "precall.yaml"), "w") as f:
                f.write("broker: {qoss: 1}\nrules: [./missing.yaml]\n")
            r = subprocess.run([PRECALL, "serve", "--config", "precall.yaml"], cwd=d,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("precall.yaml:1:10: unknown key 'qoss'", r.stderr)
            # A TLS file that cannot be read: named at once, not retried forever.
            with open(os.path.join(d, "precall.yaml"), "w") as f:
                f.write("broker: {uri: 'ssl://127.0.0.1:1', tls: {ca: ./missing.pem}}\n"
                        "rules: [./rules.yaml]\n")
            with open(os.path.join(d, "rules.yaml"), "w") as f:
                f.write("rules:\n  - {name: r, when: x > 1}\n")
            r = subprocess.run([PRECALL, "serve", "--config", "precall.yaml"], cwd=d,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("'broker.tls.ca': cannot read " + os.path.join(d, "missing.pem") +
                          ": No such file or directory", r.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class TlsGateway(harness.Gateway):
    """The harness's gateway behind a TLS listener that wants a user name and
    password: a CA and a server certificate made with openssl, a mosquitto
    password file, and mosquitto_pub/sub speaking TLS with credentials."""

    USER, PASSWORD = "precall", "s3cret-pw"

    def __init__(self, precall, rules, password=PASSWORD):
        super().__init__(precall, rules)
        d = self.dir

        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=precall-test-ca")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
                "-out", "server.csr", "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "san.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf")
        subprocess.run(["mosquitto_passwd", "-b", "-c", os.path.join(d, "passwd"), self.USER,
                        self.PASSWORD], check=True, capture_output=True, timeout=30)
        for name in ("server.key", "passwd"):
            os.chmod(os.path.join(d, name), 0o644)  # mosquitto drops root privileges
        with open(os.path.join(d, "mosquitto.conf"), "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n"
                    f"cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
                    f"allow_anonymous false\npassword_file {d}/passwd\n"
                    f"persistence true\npersistence_location {d}/\n")
        with open(os.path.join(d, "precall.yaml"), "w") as f:
            f.write(f"broker:\n  uri: ssl://127.0.0.1:{self.port}\n  client_id: precall-it\n"
                    f"  username: {self.USER}\n  password: '{password}'\n"
                    "  tls: {ca: ./ca.pem}\n"
                    "rules: [./rules.yaml]\nstorage: {path: ./data}\n"
                    "http: {listen: '127.0.0.1:0'}\n")

    def client_args(self):
        return ["-h", "127.0.0.1", "-p", str(self.port), "--cafile", os.path.join(self.dir, "ca.pem"),
                "-u", self.USER, "-P", self.PASSWORD]

    def start_subscriber(self):
        with open(self.events_path, "a") as out:
            self.procs["sub"] = subprocess.Popen(
                ["mosquitto_sub", *self.client_args(), "-q", "1", "-t", "service/#"],
                stdout=out, stderr=subprocess.DEVNULL)

        def probed():
            self.publish("service/probe", "{}")
            with open(self.events_path) as f:
                return any(line.strip() == "{}" for line in f)
        assert poll(probed, 20), "mosquitto_sub did not subscribe"

    def publish(self, topic, payload):
        subprocess.run(["mosquitto_pub", *self.client_args(), "-q", "1", "-t", topic, "-s"],
                       input=payload.encode(), check=True, timeout=30)


class TlsTest(unittest.TestCase):
    """CONTRACT §5: `ssl://` with `tls.ca`, and `username`/`password`."""

    def test_cases_flow_over_tls_with_credentials(self):
        gw = TlsGateway(PRECALL, os.path.join(DATA, "replay", "for_zero", "rules.yaml"))
        try:
            gw.start_broker()
            gw.start_subscriber()
            gw.start_gateway()
            self.assertIn(f"connected to ssl://127.0.0.1:{gw.port}", gw.log())
            gw.publish("fleet/acme/d1/telemetry", json.dumps(
                {"seq": 1, "model": "EX200", "metrics": {"pressure": 9.5}}))
            self.assertTrue(poll(lambda: any(e["case"]["rule"] == "instant" and
                                             e["type"] == "opened" for e in gw.events())),
                            gw.log())
            status, body, _ = gw.http("GET", "/readyz")
            self.assertEqual(status, 200, body)
        finally:
            gw.close()

    def test_refused_credentials_are_logged_and_not_ready(self):
        gw = TlsGateway(PRECALL, os.path.join(DATA, "replay", "for_zero", "rules.yaml"),
                        password="wrong")
        try:
            gw.start_broker()
            gw.start_gateway(wait_subscribed=False)
            self.assertTrue(poll(lambda: "(Not authorized); retrying" in gw.log()), gw.log())
            status, _, _ = gw.http("GET", "/readyz")
            self.assertEqual(status, 503)
        finally:
            gw.close()


def main():
    global PRECALL, DATA
    ap = argparse.ArgumentParser()
    ap.add_argument("--precall", required=True)
    ap.add_argument("--data", required=True)
    args, rest = ap.parse_known_args()
    PRECALL = os.path.abspath(args.precall)
    DATA = os.path.abspath(args.data)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
