"""Shared helpers of the end-to-end tests: a mosquitto on a free loopback port
in a temporary directory, the real `precall serve` with a config written
there, mosquitto_pub/sub, and the HTTP API. Every wait polls with a deadline.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(predicate, deadline_s=30.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class Gateway:
    """mosquitto + precall serve + a service-center subscriber, in a temp dir.

    `extra_config` is appended to the generated precall.yaml (e.g. an http:
    section). The HTTP API listens on a free port chosen by the gateway; see
    http_port() and http().
    """

    def __init__(self, precall, rules, devices=None, extra_config=""):
        self.precall = precall
        self.dir = tempfile.mkdtemp(prefix="precall-serve-")
        os.chmod(self.dir, 0o777)  # mosquitto drops root privileges
        self.port = free_port()
        with open(os.path.join(self.dir, "mosquitto.conf"), "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    f"persistence true\npersistence_location {self.dir}/\n"
                    "max_queued_messages 100000\n")
        shutil.copy(rules, os.path.join(self.dir, "rules.yaml"))
        config = (f"broker: {{uri: tcp://127.0.0.1:{self.port}, client_id: precall-it}}\n"
                  "rules: [./rules.yaml]\n")
        if "storage:" not in extra_config:
            config += "storage: {path: ./data}\n"
        if devices:
            shutil.copy(devices, os.path.join(self.dir, "devices.yaml"))
            config += "devices: ./devices.yaml\n"
        if "http:" not in extra_config:
            config += "http: {listen: '127.0.0.1:0'}\n"
        config += extra_config
        with open(os.path.join(self.dir, "precall.yaml"), "w") as f:
            f.write(config)
        self.procs = {}
        self.events_path = os.path.join(self.dir, "events.jsonl")

    def start_broker(self):
        self.procs["broker"] = subprocess.Popen(
            ["mosquitto", "-c", os.path.join(self.dir, "mosquitto.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert poll(self._port_open, 10), "mosquitto did not start"

    def _port_open(self):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def start_subscriber(self):
        with open(self.events_path, "a") as out:  # the child keeps its own descriptor
            self.procs["sub"] = subprocess.Popen(
                ["mosquitto_sub", "-p", str(self.port), "-q", "1", "-t", "service/#",
                 "-i", "service-center", "-c"], stdout=out, stderr=subprocess.DEVNULL)
        # Subscribed once a probe on the same filter comes back.
        def probed():
            self.publish("service/probe", "{}")
            with open(self.events_path) as f:
                return any(line.strip() == "{}" for line in f)
        assert poll(probed, 20), "mosquitto_sub did not subscribe"

    def start_gateway(self, wait_subscribed=True):
        starts = self.log().count(" serving ")
        with open(os.path.join(self.dir, "serve.log"), "a") as log:
            self.procs["gateway"] = subprocess.Popen(
                [self.precall, "serve", "--config", "precall.yaml"], cwd=self.dir,
                stdout=log, stderr=subprocess.STDOUT)
        assert poll(lambda: self.log().count(" serving ") > starts, 20), self.log()
        if wait_subscribed:
            # Messages published before the first subscription have no session to wait in.
            assert poll(lambda: self.log().count(" subscribed to ") > starts, 20), self.log()

    def stop(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None:
            return None
        p.send_signal(sig)
        if name == "broker":
            # mosquitto 2.0.11 can lose a SIGTERM that comes while it is still
            # starting up (it then runs on): repeat it until the broker is gone.
            deadline = time.monotonic() + 30
            while not poll(lambda: p.poll() is not None, 0.2) and time.monotonic() < deadline:
                p.send_signal(sig)
        return p.wait(timeout=30)

    def log(self):
        path = os.path.join(self.dir, "serve.log")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()

    def publish(self, topic, payload):
        subprocess.run(["mosquitto_pub", "-p", str(self.port), "-q", "1", "-t", topic, "-s"],
                       input=payload.encode() if isinstance(payload, str) else payload,
                       check=True, timeout=30)

    def events(self):
        if not os.path.exists(self.events_path):
            return []
        out = []
        with open(self.events_path) as f:
            for line in f:
                line = line.strip()
                if line and line != "{}":  # "{}": the subscription probe
                    out.append(json.loads(line))
        return out

    def http_port(self):
        """The port of the running gateway's HTTP API (from its latest start)."""
        ports = re.findall(r"HTTP API listening on \S+:(\d+)", self.log())
        assert ports, self.log()
        return int(ports[-1])

    def http(self, method, path, token=None, body=None, timeout=60):
        """(status, parsed JSON or text, headers) of one request to the API."""
        data = None if body is None else (body if isinstance(body, bytes) else body.encode())
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port()}{path}",
                                     data=data, method=method)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw, headers = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, headers = e.code, e.read(), e.headers
        text = raw.decode()
        is_json = headers.get("Content-Type", "").startswith("application/json")
        return status, json.loads(text) if is_json else text, headers

    def close(self):
        for name in list(self.procs):
            self.stop(name, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
