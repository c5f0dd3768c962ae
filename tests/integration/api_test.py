#!/usr/bin/env python3
"""The service-center HTTP API and /metrics of a running gateway (CONTRACT §4, §5).

Each test starts its own mosquitto on a free port in a temporary directory and
the real `precall serve` (HTTP on a free port), publishes with mosquitto_pub
and talks HTTP as a service center would: every route and status code, auth,
tenant scoping, ack/resolve, the long-poll, resuming from `next` across a
restart, /readyz before the broker is up, and `promtool check metrics` on the
real exposition. Every wait polls with a deadline.

usage: api_test.py --precall BIN
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

import harness
from harness import poll

PRECALL = None

RULES = """\
rules:
  - name: hot
    when: temp > 100
    clear: temp < 90
    severity: critical
    diagnosis: "Coolant overheating"
    skill: engine-cooling
    parts: [radiator]
"""

HTTP = """\
http:
  listen: 127.0.0.1:0
  max_wait: 30s
  tokens:
    - {token: all-secret, tenant: "*"}
    - {token: acme-secret, tenant: acme}
"""

ALL = "all-secret"
ACME = "acme-secret"

REQUIRED_METRICS = [
    "precall_messages_received_total", "precall_messages_rejected_total",
    "precall_samples_processed_total", "precall_cases_opened_total", "precall_cases_active",
    "precall_case_events_total", "precall_broker_connected", "precall_ingest_lag_seconds",
    "precall_case_latency_seconds", "precall_ring_depth", "precall_journal_write_seconds",
    "precall_store_write_seconds", "precall_devices_known", "precall_rules_loaded",
    "precall_rule_reloads_total", "precall_outbox_depth",
]


class ApiTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        fd, self.rules = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(RULES)
        self.gw = harness.Gateway(PRECALL, self.rules, extra_config=HTTP)

    def tearDown(self):
        self.gw.close()
        os.unlink(self.rules)

    def start(self):
        self.gw.start_broker()
        self.gw.start_gateway()

    def telemetry(self, tenant, device, temp, **extra):
        payload = {"metrics": {"temp": temp}, **extra}
        self.gw.publish(f"fleet/{tenant}/{device}/telemetry", json.dumps(payload))

    def changes(self, after, token=ALL, wait=0, limit=500):
        status, body, _ = self.gw.http("GET", f"/v1/changes?after={after}&limit={limit}&wait={wait}",
                                       token)
        self.assertEqual(status, 200, body)
        return body

    def wait_for_events(self, count, token=ALL):
        """Every event up to the count-th, once they are all committed."""
        self.assertTrue(poll(lambda: len(self.changes(0, token)["events"]) >= count), self.gw.log())
        return self.changes(0, token)["events"]

    def assert_error(self, reply, status):
        code, body, headers = reply
        self.assertEqual(code, status, body)
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"))
        self.assertIsInstance(body.get("error"), str, body)
        self.assertTrue(body["error"])

    def test_every_route_and_status_code(self):
        self.start()
        self.telemetry("acme", "ex-1", 105, model="EX200", labels={"site": "north"})
        [opened] = self.wait_for_events(1)
        case = opened["case"]
        self.assertEqual((opened["seq"], opened["type"]), (1, "opened"))

        status, body, _ = self.gw.http("GET", "/v1/cases?status=active&device=ex-1&rule=hot"
                                       "&severity=critical&limit=10", ALL)
        self.assertEqual(status, 200)
        self.assertEqual(body, {"cases": [case]})
        self.assertEqual(self.gw.http("GET", "/v1/cases?status=resolved", ALL)[1], {"cases": []})

        status, body, _ = self.gw.http("GET", f"/v1/cases/{case['id']}", ALL)
        self.assertEqual(status, 200)
        self.assertEqual(body, {**case, "events": [opened]})

        status, device, _ = self.gw.http("GET", "/v1/devices/acme/ex-1", ALL)
        self.assertEqual(status, 200)
        self.assertEqual({k: device[k] for k in ("tenant", "device", "model", "labels", "metrics",
                                                 "dtc", "active_cases")},
                         {"tenant": "acme", "device": "ex-1", "model": "EX200",
                          "labels": {"site": "north"}, "metrics": {"temp": 105}, "dtc": [],
                          "active_cases": [case["id"]]})
        self.assertIsInstance(device["last_seen"], int)

        self.assert_error(self.gw.http("GET", "/v1/cases/c-0000000000000000", ALL), 404)
        self.assert_error(self.gw.http("GET", "/v1/devices/acme/nobody", ALL), 404)
        self.assert_error(self.gw.http("GET", "/v1/nothing", ALL), 404)
        self.assert_error(self.gw.http("GET", "/nothing"), 404)
        self.assert_error(self.gw.http("DELETE", f"/v1/cases/{case['id']}", ALL), 405)
        self.assert_error(self.gw.http("GET", "/v1/cases?status=closed", ALL), 400)
        self.assert_error(self.gw.http("GET", "/v1/changes?after=minus", ALL), 400)
        self.assert_error(self.gw.http("POST", f"/v1/cases/{case['id']}/ack", ALL, "{}"), 400)

        self.assertEqual(self.gw.http("GET", "/healthz")[0], 200)
        self.assertEqual(self.gw.http("GET", "/readyz")[0], 200)
        status, text, headers = self.gw.http("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertIn('precall_cases_opened_total{severity="critical"} 1\n', text)
        self.assertIn('precall_cases_active{severity="critical"} 1\n', text)
        self.assertIn('precall_case_events_total{type="opened"} 1\n', text)
        self.assertIn("precall_broker_connected 1\n", text)

    def test_metrics_pass_promtool_and_count_rejects(self):
        self.start()
        self.telemetry("acme", "ex-1", 105)
        self.gw.publish("fleet/acme/ex-1/telemetry", "not json")
        self.gw.publish("fleet/acme/ex-1/telemetry", json.dumps({"metrics": {"temp": "hot"}}))
        self.gw.publish("nonsense/topic/x/telemetry", "{}")  # not subscribed: never seen
        self.wait_for_events(1)

        def scraped():
            text = self.gw.http("GET", "/metrics")[1]
            return 'precall_messages_rejected_total{reason="bad_field"} 1\n' in text and text
        self.assertTrue(poll(scraped), self.gw.http("GET", "/metrics")[1])
        text = scraped()
        for name in REQUIRED_METRICS:
            self.assertIn(f"\n# TYPE {name} ", text)
        self.assertIn('precall_messages_rejected_total{reason="bad_json"} 1\n', text)
        self.assertIn('precall_messages_rejected_total{reason="clock_skew"} 0\n', text)
        self.assertIn("precall_messages_received_total 3\n", text)
        self.assertIn("precall_devices_known 1\n", text)
        self.assertIn("precall_rules_loaded 1\n", text)
        self.assertNotIn("ex-1", text)  # nothing labelled by device
        self.assertNotIn("acme", text)  # ... or tenant
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_auth_none_wrong_and_other_tenant(self):
        self.start()
        self.telemetry("acme", "ex-1", 105)
        self.telemetry("globex", "wl-7", 105)
        events = self.wait_for_events(2)
        ids = {e["case"]["tenant"]: e["case"]["id"] for e in events}

        for token in (None, "wrong", ALL + "x"):
            for method, path, body in (("GET", "/v1/cases", None),
                                       ("GET", f"/v1/cases/{ids['acme']}", None),
                                       ("POST", f"/v1/cases/{ids['acme']}/ack", '{"by": "amy"}'),
                                       ("GET", "/v1/changes", None),
                                       ("GET", "/v1/devices/acme/ex-1", None)):
                with self.subTest(token=token, path=path):
                    reply = self.gw.http(method, path, token, body)
                    self.assert_error(reply, 401)
                    self.assertEqual(reply[2]["WWW-Authenticate"], "Bearer")

        # acme's token: acme's case and device, never globex's (as if absent).
        status, body, _ = self.gw.http("GET", "/v1/cases", ACME)
        self.assertEqual([c["id"] for c in body["cases"]], [ids["acme"]])
        self.assertEqual(self.gw.http("GET", f"/v1/cases/{ids['acme']}", ACME)[0], 200)
        self.assertEqual(self.gw.http("GET", "/v1/devices/acme/ex-1", ACME)[0], 200)
        self.assert_error(self.gw.http("GET", f"/v1/cases/{ids['globex']}", ACME), 404)
        self.assert_error(self.gw.http("POST", f"/v1/cases/{ids['globex']}/ack", ACME,
                                       '{"by": "amy"}'), 404)
        self.assert_error(self.gw.http("POST", f"/v1/cases/{ids['globex']}/resolve", ACME,
                                       '{"by": "amy"}'), 404)
        self.assert_error(self.gw.http("GET", "/v1/devices/globex/wl-7", ACME), 404)
        page = self.changes(0, ACME)
        self.assertEqual([e["case"]["tenant"] for e in page["events"]], ["acme"])
        self.assertEqual(page["next"], page["events"][-1]["seq"])  # the last seq returned
        # The "*" token sees both.
        self.assertEqual(len(self.gw.http("GET", "/v1/cases", ALL)[1]["cases"]), 2)
        self.assertEqual(self.gw.http("GET", "/v1/devices/globex/wl-7", ALL)[0], 200)

    def test_ack_then_resolve_then_ack_conflicts(self):
        self.start()
        self.telemetry("acme", "ex-1", 105)
        [opened] = self.wait_for_events(1)
        case_id = opened["case"]["id"]
        ack = f"/v1/cases/{case_id}/ack"
        resolve = f"/v1/cases/{case_id}/resolve"

        status, body, _ = self.gw.http("POST", ack, ACME, '{"by": "amy", "note": "on my way"}')
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["acknowledged_by"]), ("acknowledged", "amy"))
        self.assertIsInstance(body["acknowledged_at"], int)
        status, body, _ = self.gw.http("POST", resolve, ACME, '{"by": "bob"}')
        self.assertEqual(status, 200, body)
        self.assertEqual((body["status"], body["resolved_by"]), ("resolved", "bob"))
        self.assert_error(self.gw.http("POST", ack, ACME, '{"by": "amy"}'), 409)
        self.assert_error(self.gw.http("POST", resolve, ACME, '{"note": "no by"}'), 400)
        self.assert_error(self.gw.http("POST", resolve, ACME, "not json"), 400)

        # The actions are case events like any other: in the feed, on the case, on MQTT.
        events = self.wait_for_events(3)
        self.assertEqual([(e["seq"], e["type"]) for e in events],
                         [(1, "opened"), (2, "acknowledged"), (3, "resolved")])
        status, body, _ = self.gw.http("GET", f"/v1/cases/{case_id}", ACME)
        self.assertEqual(body["events"], events)
        status, body, _ = self.gw.http("GET", "/v1/devices/acme/ex-1", ACME)
        self.assertEqual(body["active_cases"], [])

    def test_long_poll_wakes_on_a_new_event_and_times_out_empty(self):
        self.start()
        self.assertEqual(self.changes(0, wait=0.3), {"events": [], "next": 0})
        self.assertEqual(self.changes(7, ACME, wait=0.3), {"events": [], "next": 7})

        result = {}
        poller = threading.Thread(target=lambda: result.update(page=self.changes(0, ACME, wait=25)))
        poller.start()
        self.telemetry("acme", "ex-1", 105)
        poller.join(timeout=60)
        self.assertFalse(poller.is_alive())
        # Only a woken poll rescans: a timed-out one answers an empty page.
        page = result["page"]
        self.assertEqual([e["seq"] for e in page["events"]], [1])
        self.assertEqual(page["next"], 1)

    def test_resuming_from_next_never_misses_or_repeats_across_a_restart(self):
        self.start()
        seen = []
        cursor = 0

        def drain(limit=3):
            nonlocal cursor
            while True:
                page = self.changes(cursor, limit=limit)
                seen.extend(e["seq"] for e in page["events"])
                self.assertGreaterEqual(page["next"], cursor)
                cursor = page["next"]
                if not page["events"]:
                    return

        def resolve(device):
            [case] = self.gw.http("GET", f"/v1/cases?device={device}", ALL)[1]["cases"]
            status, body, _ = self.gw.http("POST", f"/v1/cases/{case['id']}/resolve", ALL,
                                           '{"by": "amy"}')
            self.assertEqual(status, 200, body)

        for i in range(4):  # seq 1-4: opened
            self.telemetry("acme", f"d{i}", 105)
        self.assertTrue(poll(lambda: len(self.changes(0)["events"]) == 4))
        drain()
        resolve("d0")  # seq 5, 6: committed, not yet read when the gateway restarts
        resolve("d1")
        self.assertEqual(self.gw.stop("gateway"), 0, self.gw.log())
        self.gw.start_gateway()
        self.telemetry("acme", "d4", 105)  # seq 7, 8: opened; 9: resolved
        self.telemetry("acme", "d5", 105)
        self.assertTrue(poll(lambda: len(self.changes(0)["events"]) == 8), self.gw.log())
        resolve("d2")
        drain()
        self.assertEqual(seen, list(range(1, 10)))
        self.assertEqual(self.changes(cursor), {"events": [], "next": 9})

    def test_readyz_is_503_until_the_broker_is_connected(self):
        self.gw.start_gateway(wait_subscribed=False)  # no broker yet
        self.assertEqual(self.gw.http("GET", "/healthz")[0], 200)
        self.assert_error(self.gw.http("GET", "/readyz"), 503)
        self.assertIn("precall_broker_connected 0\n", self.gw.http("GET", "/metrics")[1])
        self.gw.start_broker()
        self.assertTrue(poll(lambda: self.gw.http("GET", "/readyz")[0] == 200, 60), self.gw.log())

    def test_sigterm_with_a_pending_long_poll_exits_promptly(self):
        self.start()
        result = {}
        poller = threading.Thread(target=lambda: result.update(page=self.changes(0, wait=25)))
        poller.start()
        self.assertTrue(poll(lambda: "precall_http_long_polls_waiting 1\n" in
                             self.gw.http("GET", "/metrics")[1]))
        self.assertEqual(self.gw.stop("gateway"), 0, self.gw.log())  # within stop()'s 30 s
        poller.join(timeout=30)
        self.assertFalse(poller.is_alive())
        # Answered at once with what there was, not cut off.
        self.assertEqual(result["page"], {"events": [], "next": 0})


def main():
    global PRECALL
    ap = argparse.ArgumentParser()
    ap.add_argument("--precall", required=True)
    args, rest = ap.parse_known_args()
    PRECALL = os.path.abspath(args.precall)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
