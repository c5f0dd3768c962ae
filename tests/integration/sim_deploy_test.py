#!/usr/bin/env python3
"""The production files in deploy/ (written with the simulator and demo, for
running Precall for real) are valid for the tools that will load them:

- prometheus/precall.yml loads (promtool check config), and every alert in
  precall-alerts.yml fires on the series that should raise it and stays quiet
  on a healthy gateway (promtool test rules, precall-alerts.test.yml);
- systemd/precall.service passes systemd-analyze verify;
- mosquitto.conf and mosquitto.acl start a real mosquitto: a machine with a
  client certificate publishes over TLS, the gateway's password account reads
  it on loopback, and an anonymous client is refused.

usage: sim_deploy_test.py --precall BIN --deploy deploy/
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

from harness import free_port, poll

PRECALL = DEPLOY = None


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kw)


class PrometheusTest(unittest.TestCase):
    def test_scrape_config_and_rules_load(self):
        r = run("promtool", "check", "config", os.path.join(DEPLOY, "prometheus", "precall.yml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 rule files found", r.stdout + r.stderr)

    def test_every_alert_fires_when_it_should_and_only_then(self):
        r = run("promtool", "test", "rules", "precall-alerts.test.yml",
                cwd=os.path.join(DEPLOY, "prometheus"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)
        # Every alert of the rule file is exercised by a firing test.
        with open(os.path.join(DEPLOY, "prometheus", "precall-alerts.yml")) as f:
            alerts = set(re.findall(r"alert: (\w+)", f.read()))
        with open(os.path.join(DEPLOY, "prometheus", "precall-alerts.test.yml")) as f:
            tests = f.read()
        fired = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n", tests))
        self.assertEqual(alerts, fired)


class SystemdTest(unittest.TestCase):
    def test_unit_verifies_with_reload_on_sighup(self):
        with open(os.path.join(DEPLOY, "systemd", "precall.service")) as f:
            unit = f.read()
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        d = tempfile.mkdtemp(prefix="precall-unit-")
        try:
            path = os.path.join(d, "precall.service")
            with open(path, "w") as f:
                f.write(unit.replace("/usr/local/bin/precall", PRECALL))
            r = run("systemd-analyze", "verify", path)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout + r.stderr, "", "unknown or malformed settings")
        finally:
            shutil.rmtree(d, ignore_errors=True)


class MosquittoTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="precall-mosquitto-")
        os.chmod(self.dir, 0o777)  # mosquitto drops root privileges
        self.broker = None
        self.logs = []

    def tearDown(self):
        for p in [self.broker] + getattr(self, "subs", []):
            if p and p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        for f in self.logs:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def cert(self, name, cn, ca=None):
        key, crt = self.path(name + ".key"), self.path(name + ".crt")
        if ca is None:
            r = run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-keyout", key, "-out", crt)
        else:
            csr = self.path(name + ".csr")
            r = run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                    "-keyout", key, "-out", csr)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run("openssl", "x509", "-req", "-in", csr, "-CA", ca + ".crt", "-CAkey",
                    ca + ".key", "-CAcreateserial", "-days", "2", "-out", crt)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(key, 0o644)

    def test_production_config_starts_and_enforces_tls_passwords_and_acl(self):
        plain, tls = free_port(), free_port()
        self.cert("ca", "Precall test device CA")
        self.cert("broker", "127.0.0.1", ca=self.path("ca"))
        self.cert("device", "ex200-0001", ca=self.path("ca"))
        r = run("mosquitto_passwd", "-c", "-b", self.path("passwd"), "precall", "gw-secret")
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(self.path("passwd"), 0o644)
        shutil.copy(os.path.join(DEPLOY, "mosquitto.acl"), self.path("acl"))
        with open(os.path.join(DEPLOY, "mosquitto.conf")) as f:
            conf = f.read()
        for old, new in [("/var/lib/mosquitto/", self.dir + "/"),
                         ("/etc/mosquitto/passwd", self.path("passwd")),
                         ("/etc/mosquitto/acl", self.path("acl")),
                         ("/etc/mosquitto/certs/device-ca.crt", self.path("ca.crt")),
                         ("/etc/mosquitto/certs/broker.crt", self.path("broker.crt")),
                         ("/etc/mosquitto/certs/broker.key", self.path("broker.key")),
                         ("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1"),
                         ("listener 8883", f"listener {tls} 127.0.0.1")]:
            self.assertIn(old, conf)
            conf = conf.replace(old, new)
        with open(self.path("mosquitto.conf"), "w") as f:
            f.write(conf)
        log = open(self.path("mosquitto.log"), "w")
        self.logs.append(log)
        self.broker = subprocess.Popen(["mosquitto", "-c", self.path("mosquitto.conf")],
                                       stdout=log, stderr=subprocess.STDOUT)

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", tls)) == 0

        def broker_log():
            with open(self.path("mosquitto.log")) as f:
                return f.read()
        self.assertTrue(poll(listening), broker_log())

        # The gateway's account reads telemetry on loopback.
        out = open(self.path("sub.out"), "w")
        self.logs.append(out)
        self.subs = [subprocess.Popen(
            ["mosquitto_sub", "-p", str(plain), "-u", "precall", "-P", "gw-secret", "-q", "1",
             "-v", "-t", "fleet/#"], stdout=out, stderr=subprocess.STDOUT)]
        # A machine publishes its telemetry over TLS with its certificate
        # (repeated until the subscriber, connecting meanwhile, has it).
        device = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls), "--cafile",
                  self.path("ca.crt"), "--cert", self.path("device.crt"), "--key",
                  self.path("device.key"), "-q", "1"]

        def received():
            r = run(*device, "-t", "fleet/acme/ex200-0001/telemetry", "-m", '{"seq":1}')
            self.assertEqual(r.returncode, 0, r.stderr + broker_log())
            with open(self.path("sub.out")) as f:
                return 'fleet/acme/ex200-0001/telemetry {"seq":1}' in f.read()
        self.assertTrue(poll(received), broker_log())

        # Anonymous clients are refused; so is a TLS client without a certificate.
        r = run("mosquitto_pub", "-p", str(plain), "-t", "fleet/acme/x/telemetry", "-m", "{}")
        self.assertNotEqual(r.returncode, 0)
        r = run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls), "--cafile", self.path("ca.crt"),
                "-t", "fleet/acme/x/telemetry", "-m", "{}")
        self.assertNotEqual(r.returncode, 0)


def main():
    global PRECALL, DEPLOY
    ap = argparse.ArgumentParser()
    ap.add_argument("--precall", required=True)
    ap.add_argument("--deploy", required=True)
    args, rest = ap.parse_known_args()
    PRECALL, DEPLOY = os.path.abspath(args.precall), os.path.abspath(args.deploy)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
