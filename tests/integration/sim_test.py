#!/usr/bin/env python3
"""The fleet simulator (`precall-sim`) against the example rules and catalog
(deploy/examples), scored by `precall-sim score`.

SimReplayTest: through `precall replay`, which takes its clock from the data,
so hours of fleet time take seconds and the outcome is exact: every injected
fault is caught by the rule meant for it, a healthy fleet opens nothing, and a
flapping sensor opens one case, not a storm.

SimLiveTest: mosquitto, `precall serve` and `precall-sim` publishing 200
machines at 30x speed for 30 s of wall time (15 min of fleet time); the
scorer reads the cases over the HTTP API (GET /v1/changes). The example's
silent(1m) becomes silent(8s): silent() counts wall time, which the simulator
does not compress. Everything else is the example as shipped.

usage: sim_test.py --precall BIN --sim BIN --examples deploy/examples [TestCase]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from harness import free_port, poll

PRECALL = SIM = EXAMPLES = None
START = "1795849200000"  # 2026-11-28 07:00 UTC
TOKEN = "sim-test-token"


class SimReplayTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="precall-sim-replay-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def simulate(self, *args):
        subprocess.run([SIM, "--output", self.path("telemetry.jsonl"), "--truth",
                        self.path("truth.jsonl"), "--start", START, *args],
                       check=True, capture_output=True, timeout=120)

    def replay(self):
        with open(self.path("events.jsonl"), "w") as out:
            subprocess.run([PRECALL, "replay", "--rules", os.path.join(EXAMPLES, "rules.yaml"),
                            "--devices", os.path.join(EXAMPLES, "devices.yaml"),
                            "--input", self.path("telemetry.jsonl")],
                           stdout=out, stderr=subprocess.PIPE, check=True, timeout=120)
        with open(self.path("events.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]

    def score(self):
        out = subprocess.run([SIM, "score", "--truth", self.path("truth.jsonl"), "--events",
                              self.path("events.jsonl"), "--json"],
                             check=True, capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout)

    def test_every_fault_is_caught_by_its_rule_and_nothing_else_opens(self):
        self.simulate("--machines", "300", "--fault-rate", "0.3", "--duration", "40m",
                      "--fault-window", "20m", "--seed", "7")
        events = self.replay()
        score = self.score()
        total = score["total"]
        self.assertGreater(total["episodes"], 60)
        self.assertEqual(total["pending"], 0, score["notes"])
        self.assertEqual(total["recall"], 1.0, score["notes"])
        self.assertEqual(total["precision"], 1.0, score["notes"])
        self.assertEqual(total["duplicates"], 0, score["notes"])
        kinds = {k["kind"]: k for k in score["kinds"]}
        for kind in ("overheat", "oil_pressure_loss", "hydraulic_leak", "battery_decay", "dtc",
                     "silent", "flapping_sensor"):
            self.assertGreater(kinds[kind]["episodes"], 0, kind)
            self.assertEqual(kinds[kind]["detected"], kinds[kind]["episodes"], kind)
        # dtc episodes clear: their cases resolve on their own.
        resolved = {e["case"]["rule"] for e in events
                    if e["type"] == "resolved" and e["case"]["resolved_by"] == "auto"}
        self.assertTrue(any(r.startswith("dtc:") for r in resolved), resolved)

    def test_a_flapping_sensor_opens_one_case_however_long_it_flaps(self):
        self.simulate("--machines", "60", "--fault-rate", "1", "--faults", "flapping_sensor",
                      "--duration", "3h", "--fault-window", "10m", "--seed", "3")
        events = self.replay()
        opened = {}
        for e in events:
            if e["type"] == "opened":
                key = (e["case"]["device"], e["case"]["rule"])
                opened[key] = opened.get(key, 0) + 1
        self.assertEqual(len(opened), 60, opened)  # one device, one case
        self.assertEqual(set(opened.values()), {1})
        self.assertEqual({rule for _, rule in opened}, {"coolant_sensor_erratic"})
        # Its SPN 110 FMI 3/4 blinks (hundreds per machine) open nothing.
        self.assertFalse(any(e["case"]["rule"].startswith("dtc:") for e in events))

    def test_a_healthy_fleet_opens_no_case(self):
        self.simulate("--machines", "200", "--fault-rate", "0", "--duration", "2h", "--seed", "11")
        self.assertEqual(self.replay(), [])
        score = self.score()
        self.assertEqual(score["total"]["episodes"], 0)
        self.assertEqual(score["total"]["cases"], 0)

    def test_help_explains_the_simulator_and_the_scorer(self):
        out = subprocess.run([SIM, "--help"], capture_output=True, text=True, check=True).stdout
        for word in ("--speed", "--truth", "flapping_sensor", "silent()", "score"):
            self.assertIn(word, out)
        out = subprocess.run([SIM, "score", "--help"], capture_output=True, text=True,
                             check=True).stdout
        for word in ("--api", "--token", "recall", "precision", "duplicate", "lead"):
            self.assertIn(word, out)


class SimLiveTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="precall-sim-live-")
        os.chmod(self.dir, 0o777)  # mosquitto drops root privileges
        self.procs = {}
        self.logs = []
        self.mqtt_port = free_port()
        self.http_port = free_port()

    def tearDown(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        for f in self.logs:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, name, args, **kw):
        log = open(self.path(name + ".log"), "w")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, **kw)

    def log(self, name):
        with open(self.path(name + ".log")) as f:
            return f.read()

    def port_open(self, port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz",
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def test_200_machines_every_fault_caught_over_the_api_no_duplicates(self):
        with open(self.path("mosquitto.conf"), "w") as f:
            f.write(f"listener {self.mqtt_port} 127.0.0.1\nallow_anonymous true\n"
                    "max_queued_messages 100000\n")
        with open(os.path.join(EXAMPLES, "rules.yaml")) as f:
            rules = f.read()
        self.assertIn("silent(1m)", rules)
        with open(self.path("rules.yaml"), "w") as f:
            f.write(rules.replace("silent(1m)", "silent(8s)"))
        shutil.copy(os.path.join(EXAMPLES, "devices.yaml"), self.path("devices.yaml"))
        with open(self.path("precall.yaml"), "w") as f:
            f.write(f"broker: {{uri: 'tcp://127.0.0.1:{self.mqtt_port}', client_id: precall-sim-it}}\n"
                    f"storage: {{path: ./data}}\n"
                    f"http: {{listen: '127.0.0.1:{self.http_port}', "
                    f"tokens: [{{token: {TOKEN}, tenant: '*'}}]}}\n"
                    "rules: [./rules.yaml]\ndevices: ./devices.yaml\n")

        self.start("mosquitto", ["mosquitto", "-c", self.path("mosquitto.conf")])
        self.assertTrue(poll(lambda: self.port_open(self.mqtt_port), 10), "mosquitto did not start")
        self.start("gateway", [PRECALL, "serve", "--config", "precall.yaml"], cwd=self.dir)
        self.assertTrue(poll(lambda: " subscribed to " in self.log("gateway"), 30),
                        self.log("gateway"))
        self.assertTrue(poll(self.ready, 30), self.log("gateway"))
        # What the machines say on their status topics, last wills included.
        self.start("status", ["mosquitto_sub", "-p", str(self.mqtt_port), "-q", "1", "-v",
                              "-t", "fleet/acme/+/status", "-t", "probe/#"])

        def probed():
            subprocess.run(["mosquitto_pub", "-p", str(self.mqtt_port), "-t", "probe/x", "-m", "p"],
                           check=True, timeout=10)
            return "probe/x p" in self.log("status")
        self.assertTrue(poll(probed, 20), "mosquitto_sub did not subscribe")

        sim = subprocess.run(
            [SIM, "--broker", f"tcp://127.0.0.1:{self.mqtt_port}", "--machines", "200",
             "--speed", "30", "--interval", "5s", "--duration", "30s", "--fault-rate", "0.3",
             "--fault-start", "1m", "--fault-window", "5m", "--silent-after", "8s", "--seed", "17",
             "--truth", self.path("truth.jsonl")],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(sim.returncode, 0, sim.stderr)
        out = subprocess.run(
            [SIM, "score", "--truth", self.path("truth.jsonl"),
             "--api", f"http://127.0.0.1:{self.http_port}", "--token", TOKEN,
             "--wait", "--timeout", "60s", "--json"],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        score = json.loads(out.stdout)
        total = score["total"]
        detail = json.dumps(score, indent=1) + "\n" + sim.stderr + self.log("gateway")[-3000:]

        self.assertGreater(total["episodes"], 40, detail)
        self.assertEqual(total["pending"], 0, detail)
        self.assertGreaterEqual(total["recall"], 0.99, detail)
        self.assertEqual(total["duplicates"], 0, detail)
        # Rules on event time see exactly the samples the simulator sent, so
        # they raise no false alarm; silent() runs on wall time, which a
        # stalled machine could bend, so only it is left out of this check.
        for k in score["kinds"]:
            if k["kind"] != "silent":
                self.assertEqual(k["false"], 0, detail)

        # Machines that went silent left through their last will; the others
        # said goodbye at the end of the run.
        with open(self.path("truth.jsonl")) as f:
            truth = [json.loads(line) for line in f if line.strip()]
        silent = {e["device"] for e in truth if e.get("kind") == "silent"}
        self.assertTrue(silent)
        self.assertTrue(poll(lambda: all(f"fleet/acme/{d}/status offline" in self.log("status")
                                         for d in silent), 20), self.log("status")[-2000:])
        statuses = self.log("status")
        self.assertEqual(statuses.count("/status online"), 200)
        self.assertEqual(statuses.count("/status offline"), 200)

        self.procs["gateway"].send_signal(signal.SIGTERM)
        self.assertEqual(self.procs["gateway"].wait(timeout=60), 0, self.log("gateway"))


def main():
    global PRECALL, SIM, EXAMPLES
    ap = argparse.ArgumentParser()
    ap.add_argument("--precall", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--examples", required=True)
    args, rest = ap.parse_known_args()
    PRECALL, SIM = os.path.abspath(args.precall), os.path.abspath(args.sim)
    EXAMPLES = os.path.abspath(args.examples)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
