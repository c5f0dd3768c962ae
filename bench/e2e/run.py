#!/usr/bin/env python3
"""The end-to-end benchmark: Precall against the broker's own limit and against Node-RED.

Three systems take the same open-loop load (precall_e2e_load: 100,000 device
topics, ~260-byte samples, 1 % of them breaking a rule), each step on a fresh
mosquitto and a fresh system:

  B0  broker -> null subscriber (precall_e2e_sink --mode telemetry)
  G   precall serve, bench/e2e/rules.yaml, journal on (--journal-sync, default strict)
  N   Node-RED: MQTT in -> json -> function (the same rules) -> MQTT out

and the case probe (precall_e2e_sink --mode cases) times publish -> case.
Measured: the highest zero-loss rate of each (interleaved searches, several
rounds), latency and CPU per process at 50 % and 80 % of G's maximum, peak
RSS after 10k / 100k / 1M distinct devices, and a perf profile of G at its
maximum. Writes bench/results/e2e.md, e2e.json and e2e_latency.png.

usage: run.py --build build/release [--quick] [--systems B0,G,N] [--qos 1]
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SYSTEMS = ("B0", "G", "N")
NAMES = {"B0": "B0 broker → null subscriber", "G": "G precall serve",
         "N": "N Node-RED"}
FLEET_DEVICES = 100_000
# A step passes only if the publisher kept its schedule and no backlog grew:
# every case (or breaking message) intended in the run's last second arrived
# within MAX_TAIL_LAG_US of its intended send time. A system that falls behind
# by a few % accumulates that much over a step; a one-off pause (G writes its
# device checkpoints every 10 s) shows in p99/p999 instead of failing the step.
MAX_TAIL_LAG_US = 1_000_000
MAX_PUBLISHER_LAG_US = 250_000


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(predicate, deadline_s, every=0.05):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def cpu_seconds(pid):
    """utime + stime of all the process's threads, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError):
        return None


def proc_status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def thread_cpu(pid):
    """CPU seconds per thread name of a process (its threads' comm)."""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
            name = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        pass
    return out


class Proc:
    """A child process with its output in a file."""

    def __init__(self, args, log_path, cwd=None, env=None):
        self.log_path = log_path
        self.out = open(log_path, "w")
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=self.out, stderr=subprocess.STDOUT)
        self.pid = self.p.pid

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        return self.p.returncode


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.precall = os.path.join(self.build, "gateway", "precall")
        self.load = os.path.join(self.build, "bench", "e2e", "precall_e2e_load")
        self.sink = os.path.join(self.build, "bench", "e2e", "precall_e2e_sink")
        self.work = os.path.abspath(args.work)
        self.node_red = os.path.join(HERE, "node_modules", "node-red", "red.js")
        self.steps = []
        self.step_no = 0

    # --- one system under one load ------------------------------------------------

    def start_broker(self, d):
        port = free_port()
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            # Same broker for every system: in memory, $SYS every second (the
            # dropped counter), generous queues so that a short stall of a
            # subscriber is a backlog the benchmark sees as lag, not a drop.
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "sys_interval 1\nmax_inflight_messages 1000\nmax_queued_messages 100000\n")
        broker = Proc(["mosquitto", "-c", conf], os.path.join(d, "mosquitto.log"))

        def up():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        if not poll(up, 10):
            raise RuntimeError("mosquitto did not start: " + broker.text())
        return broker, port

    def warm_up(self, port, deadline_s=60):
        """Publishes breaking samples of tenant `warmup` (a new device each time,
        so each opens a case) until a case comes back: the system is subscribed
        and running end to end. Returns how many samples it took."""
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-t", "service/warmup/cases/#",
                                "-C", "1", "-W", str(deadline_s)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sent = 0
        end = time.monotonic() + deadline_s
        while sub.poll() is None and time.monotonic() < end:
            payload = json.dumps({"seq": 1, "model": "EX200",
                                  "metrics": {"engine_rpm": 2800, "sent_us": 1}})
            subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1",
                            "-t", f"fleet/warmup/dev-{sent:06d}/telemetry", "-m", payload],
                           check=True, timeout=10)
            sent += 1
            poll(lambda: sub.poll() is not None, 0.5)
        if sub.poll() is None:
            sub.kill()
        sub.wait()
        if sub.returncode != 0:
            raise RuntimeError("no case came back from the warm-up samples")
        return sent

    def start_system(self, system, d, port, qos):
        """Starts G or N (B0 has nothing but the sink) and returns (proc, info)."""
        if system == "G":
            with open(os.path.join(d, "precall.yaml"), "w") as f:
                f.write(f"broker: {{uri: 'tcp://127.0.0.1:{port}', client_id: precall-bench, "
                        f"qos: {qos}}}\nstorage: {{path: ./data, journal_sync: {self.args.journal_sync}}}\n"
                        f"http: {{listen: '127.0.0.1:0'}}\n"
                        f"rules: ['{os.path.join(HERE, 'rules.yaml')}']\n")
            p = Proc([self.precall, "serve", "--config", "precall.yaml"],
                     os.path.join(d, "serve.log"), cwd=d)
            if not poll(lambda: " subscribed to " in p.text() or not p.alive(), 30):
                raise RuntimeError("precall serve did not subscribe: " + p.text())
            m = re.search(r"listening on ([\d.]+:\d+)", p.text())
            return p, {"http": m.group(1) if m else None}
        if system == "N":
            write_flow(os.path.join(d, "flows.json"))
            env = dict(os.environ, MQTT_PORT=str(port), MQTT_QOS=str(qos))
            p = Proc(["node", self.node_red, "--settings", os.path.join(HERE, "node-red",
                                                                        "settings.js"),
                      "--userDir", d, os.path.join(d, "flows.json")],
                     os.path.join(d, "node-red.log"), cwd=d, env=env)
            if not poll(lambda: "Connected to broker" in p.text() or not p.alive(), 60):
                raise RuntimeError("Node-RED did not connect: " + p.text())
            return p, {}
        return None, {}

    def run_step(self, system, rate, duration, qos, devices=FLEET_DEVICES, chunks=None,
                 profile_s=0, label="", break_every=100):
        """One fresh broker + system + sink, one load; returns the step record.

        `chunks`: RSS mode, a list of cumulative message counts; the fleet is
        sent chunk by chunk (each device once per `devices` messages) and the
        system's peak RSS read after each chunk has been processed."""
        self.step_no += 1
        d = os.path.join(self.work, f"{self.step_no:03d}-{system}-{int(rate)}{label}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        os.chmod(d, 0o777)  # mosquitto drops root privileges
        broker, port = self.start_broker(d)
        system_proc = sink = None
        rec = {"system": system, "rate": rate, "duration": duration, "qos": qos,
               "devices": devices, "label": label, "dir": os.path.relpath(d, ROOT)}
        try:
            system_proc, info = self.start_system(system, d, port, qos)
            warm = self.warm_up(port) if system != "B0" else 0
            mode = "telemetry" if system == "B0" else "cases"
            sink = Proc([self.sink, "--port", str(port), "--mode", mode, "--qos", "1",
                         "--break-every", str(break_every), "--out", os.path.join(d, "sink.json")],
                        os.path.join(d, "sink.out"))
            if not poll(lambda: "subscribed" in sink.text(), 10):
                raise RuntimeError("sink did not subscribe: " + sink.text())
            pids = {"broker": broker.pid, "sut": (system_proc or sink).pid, "probe": sink.pid}
            cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
            threads0 = thread_cpu(system_proc.pid) if system_proc else {}
            plan = chunks or [int(rate * duration)]
            gens, rss, gen_cpu, perf_proc = [], [], 0.0, None
            first = 0
            for upto in plan:
                gen_out = os.path.join(d, f"load-{first}.json")
                gen_args = [self.load, "--port", str(port), "--qos", str(qos),
                            "--devices", str(devices), "--rate", str(int(rate)),
                            "--count", str(upto - first), "--first", str(first),
                            "--break-every", str(break_every), "--out", gen_out]
                with open(os.path.join(d, "load.err"), "a") as err:
                    gen = subprocess.Popen(gen_args, stdout=subprocess.DEVNULL, stderr=err)
                if profile_s and system_proc:
                    with open(os.path.join(d, "perf.err"), "w") as err:
                        perf_proc = subprocess.Popen(
                            ["perf", "record", "-F", "999", "-g", "-p", str(system_proc.pid),
                             "-o", os.path.join(d, "perf.data"), "--", "sleep", str(profile_s)],
                            stdout=subprocess.DEVNULL, stderr=err)
                _, status, usage = os.wait4(gen.pid, 0)
                gen.returncode = os.waitstatus_to_exitcode(status)
                gen_cpu += usage.ru_utime + usage.ru_stime
                with open(gen_out) as f:
                    g = json.load(f)
                g["returncode"] = gen.returncode
                gens.append(g)
                first = upto
                expected = sum(x["expect_opened"] + x["expect_updated"] for x in gens)
                sent = sum(x["sent"] for x in gens)

                def drained():
                    m = sink_progress(sink)
                    return m and m[1 if system != "B0" else 0] >= (expected if system != "B0"
                                                                   else sent)
                poll(drained, self.args.drain_s)
                if chunks:
                    rss.append({"devices": min(upto, devices), "vm_hwm_kb":
                                proc_status_kb(system_proc.pid, "VmHWM"),
                                "vm_rss_kb": proc_status_kb(system_proc.pid, "VmRSS")})
            cpu1 = {k: cpu_seconds(p) for k, p in pids.items()}
            threads1 = thread_cpu(system_proc.pid) if system_proc else {}
            if perf_proc:
                perf_proc.wait(timeout=profile_s + 30)
            # The broker's counters are published every second: wait for the
            # update that has seen every message (telemetry plus cases).
            total_in = sum(x["sent"] for x in gens) + warm

            def sys_caught_up():
                s = sink_progress(sink)
                return s is not None and s[4] >= total_in
            poll(sys_caught_up, 3)
            metrics = scrape(info.get("http")) if system == "G" else None
            sink_code = sink.stop()
            with open(os.path.join(d, "sink.json")) as f:
                s = json.load(f)
            rec.update(evaluate(system, gens, s, metrics, warm))
            # The tools themselves must end cleanly (under ASan: no leak, no error).
            for who, code in [("sink", sink_code)] + [("publisher", g["returncode"]) for g in gens]:
                if code != 0:
                    rec["reasons"].append(f"{who} exited {code}")
                    rec["pass"] = False
            rec["warmup_samples"] = warm
            rec["cpu_s"] = {k: (cpu1[k] - cpu0[k]) if cpu0[k] is not None and cpu1[k] is not None
                            else None for k in pids}
            rec["cpu_s"]["publisher"] = gen_cpu
            rec["threads_cpu_s"] = {k: round(v - threads0.get(k, 0), 3)
                                    for k, v in threads1.items() if v - threads0.get(k, 0) > 0.005}
            rec["vm_hwm_kb"] = proc_status_kb(pids["sut"], "VmHWM")
            if rss:
                rec["rss"] = rss
            if perf_proc:
                rec["profile_s"] = profile_s
        except Exception as e:  # a step that cannot run is a failed step, with the reason
            rec.update({"pass": False, "reasons": [f"error: {e}"]})
        finally:
            if sink and sink.alive():
                sink.stop(signal.SIGKILL)
            if system_proc:
                code = system_proc.stop(timeout=30)
                if system == "G" and code != 0:  # SIGTERM must drain and exit 0
                    rec.setdefault("reasons", []).append(f"precall serve exited {code}")
                    rec["pass"] = False
            broker.stop()
            shutil.rmtree(os.path.join(d, "data"), ignore_errors=True)
            shutil.rmtree(os.path.join(d, "node_modules"), ignore_errors=True)
        verdict = "pass" if rec.get("pass") else "FAIL " + "; ".join(rec.get("reasons", []))
        lat = rec.get("latency_us", {})
        log(f"{system:>2} {rate:>9,.0f}/s {label:<8} {verdict}  p50 {lat.get('p50', 0) / 1000:.2f} ms"
            f"  p99 {lat.get('p99', 0) / 1000:.2f} ms  cpu {fmt_cpu(rec.get('cpu_s'))}")
        self.steps.append(rec)
        return rec

    # --- the measurements ---------------------------------------------------------------

    def search(self, system, start, growth, max_steps, resolution):
        """Generator: yields rates to try, receives pass/fail, ends with the highest
        passing rate (None if none passed) as its return value."""
        lo = hi = None
        x = start
        for _ in range(max_steps):
            ok = yield x
            if ok:
                lo = x
            else:
                hi = x
            if lo is None:
                x = hi / growth
            elif hi is None:
                x = lo * growth
            elif hi / lo <= 1 + resolution:
                break
            else:
                x = math.sqrt(lo * hi)
        return lo

    def max_rates(self, systems, rounds):
        """Interleaved: each round runs one search per system, a step of each in turn."""
        a = self.args
        starts = {"B0": 20000, "G": 10000, "N": 2000}
        results = {s: [] for s in systems}
        for r in range(rounds):
            searches = {}
            for s in systems:
                prev = [x for x in results[s] if x]
                if prev:  # later rounds: start from the last estimate, finer steps
                    searches[s] = self.search(s, prev[-1] * 1.04, 1.12, a.later_steps, 0.05)
                else:
                    searches[s] = self.search(s, starts[s], 1.6, a.first_steps, 0.08)
            pending = {s: next(g) for s, g in searches.items()}
            while pending:
                for s in list(pending):
                    rec = self.run_step(s, pending[s], a.step_s, a.qos, label=f"r{r + 1}")
                    try:
                        pending[s] = searches[s].send(bool(rec.get("pass")))
                    except StopIteration as done:
                        results[s].append(done.value)
                        del pending[s]
            log(f"round {r + 1}: " + ", ".join(f"{s} {results[s][-1] or 0:,.0f}/s" for s in systems))
        return results


def sink_progress(sink):
    """(received, distinct case events, $SYS updates, last receive µs,
    broker's publish/messages/received) from the sink's last progress line."""
    lines = [l for l in sink.text().splitlines() if l.startswith("progress ")]
    if not lines:
        return None
    parts = lines[-1].split()
    if len(parts) < 6:
        return None
    return tuple(int(x) for x in parts[1:6])


def scrape(http):
    """Sums of G's /metrics samples by name (labels dropped), or None."""
    if not http:
        return None
    try:
        import urllib.request
        with urllib.request.urlopen(f"http://{http}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        name = name.split("{")[0]
        try:
            out[name] = out.get(name, 0) + float(value)
        except ValueError:
            pass
    return out


def evaluate(system, gens, s, metrics, warm):
    """Pass or fail, with reasons, and the step's figures."""
    reasons = []
    sent = sum(g["sent"] for g in gens)
    count = sum(g["count"] for g in gens)
    if sent != count or any(g["acked"] != g["sent"] or g["publish_errors"] for g in gens):
        reasons.append(f"publisher sent {sent} of {count}")
    lag = max(g["final_lateness_us"] for g in gens)
    if lag > MAX_PUBLISHER_LAG_US:
        reasons.append(f"publisher {lag / 1000:.0f} ms behind schedule")
    dropped = s["sys"].get("$SYS/broker/publish/messages/dropped", [0, 0])
    if dropped[1] != dropped[0]:
        reasons.append(f"broker dropped {dropped[1] - dropped[0]:.0f}")
    expect_opened = sum(g["expect_opened"] for g in gens)
    expect_updated = sum(g["expect_updated"] for g in gens)
    if system == "B0":
        if s["in_order"] != sent or s["gaps"] or s["duplicates"] or s["bad"]:
            reasons.append(f"received {s['in_order']} of {sent} (gaps {s['gaps']}, "
                           f"duplicates {s['duplicates']})")
        latency = s["latency_us"]
    else:
        types = s.get("types", {})
        want = {"opened": expect_opened}
        if expect_updated:
            want["updated"] = expect_updated
        if types != want or s["distinct_opened"] != expect_opened:
            reasons.append(f"case events {types} (distinct {s['distinct_opened']}), expected {want}")
        latency = s["latency_breaking_us"]
        if metrics is not None and "precall_samples_processed_total" in metrics:
            processed = metrics["precall_samples_processed_total"]
            rejected = metrics.get("precall_messages_rejected_total", 0)
            if processed != sent + warm or rejected:
                reasons.append(f"gateway processed {processed:.0f} of {sent + warm}, "
                               f"rejected {rejected:.0f}")
    # Backlog: the worst latency over the run's last second (by intended send time).
    end_us = max(g["end_intended_us"] for g in gens)
    tail = [mx for sec, _, mx in s["per_second"] if (sec + 1) * 1_000_000 > end_us - 1_000_000]
    tail_lag = max(tail) if tail else None
    if tail_lag is None or tail_lag > MAX_TAIL_LAG_US:
        reasons.append("backlog: last second " + (f"{tail_lag / 1000:.0f} ms late" if tail_lag
                                                   else "never arrived"))
    return {"pass": not reasons, "reasons": reasons, "sent": sent, "expect_opened": expect_opened,
            "expect_updated": expect_updated, "case_types": s.get("types"),
            "latency_us": latency, "tail_lag_us": tail_lag, "publisher_lag_us": lag,
            "publisher_lateness_us": merge_lateness(gens), "broker_dropped": dropped,
            "payload_bytes": gens[0]["payload_bytes_mean"],
            "gateway_metrics": {k: v for k, v in (metrics or {}).items()
                                if k in ("precall_samples_processed_total",
                                         "precall_messages_rejected_total",
                                         "precall_messages_received_total")}}


def merge_lateness(gens):
    return max((g["lateness_us"] for g in gens), key=lambda h: h["p99"])


def fmt_cpu(cpu):
    if not cpu:
        return "-"
    return " ".join(f"{k} {v:.2f}s" for k, v in cpu.items() if v is not None)


def write_flow(path):
    """System N's flow: MQTT in -> json -> function (setup.js + on_message.js) -> MQTT out."""
    def read(name):
        with open(os.path.join(HERE, "node-red", name)) as f:
            return f.read()
    flow = [
        {"id": "bench.tab", "type": "tab", "label": "precall-bench"},
        {"id": "bench.broker", "type": "mqtt-broker", "name": "bench broker",
         "broker": "127.0.0.1", "port": "${MQTT_PORT}", "clientid": "nodered-bench",
         "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60",
         "cleansession": True, "autoUnsubscribe": True},
        {"id": "bench.in", "type": "mqtt in", "z": "bench.tab", "name": "telemetry",
         "topic": "fleet/+/+/telemetry", "qos": "${MQTT_QOS}", "datatype": "utf8",
         "broker": "bench.broker", "nl": False, "rap": False, "inputs": 0,
         "wires": [["bench.json"]]},
        {"id": "bench.json", "type": "json", "z": "bench.tab", "name": "parse",
         "property": "payload", "action": "obj", "pretty": False, "wires": [["bench.rules"]]},
        {"id": "bench.rules", "type": "function", "z": "bench.tab", "name": "rules",
         "func": read("on_message.js"), "initialize": read("setup.js"), "finalize": "",
         "outputs": 1, "libs": [], "wires": [["bench.out"]]},
        {"id": "bench.out", "type": "mqtt out", "z": "bench.tab", "name": "cases", "topic": "",
         "qos": "1", "retain": "false", "broker": "bench.broker", "wires": []},
    ]
    with open(path, "w") as f:
        json.dump(flow, f, indent=1)


def median(xs):
    xs = sorted(x for x in xs if x)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="build dir with gateway/precall and bench/e2e")
    ap.add_argument("--quick", action="store_true", help="one round, short steps (< 5 min)")
    ap.add_argument("--systems", default="B0,G,N")
    ap.add_argument("--qos", type=int, default=1, choices=(0, 1))
    ap.add_argument("--journal-sync", default="strict", choices=("strict", "group", "fsync"),
                    help="G's storage.journal_sync (default: strict, the gateway's default)")
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", "out", "e2e"))
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of the benchmark and everything it starts; a negative one "
                    "(root) shields the measurement from background work on a shared machine")
    ap.add_argument("--rerender", action="store_true",
                    help="only rewrite e2e.md and the plot from bench/results/e2e.json")
    args = ap.parse_args()
    if args.rerender:
        rerender(args)
        return
    if args.nice:
        set_niceness(args.nice)
    if args.quick:
        args.rounds, args.step_s, args.first_steps, args.later_steps = 1, 4, 5, 3
        args.latency_s, args.profile_s, args.drain_s = 4, 3, 5
        args.rss_points, args.rss_cap_s, args.low_rates = [10_000, 100_000], 20, [2000]
    else:
        args.rounds, args.step_s, args.first_steps, args.later_steps = 3, 10, 7, 4
        args.latency_s, args.profile_s, args.drain_s = 10, 8, 8
        args.rss_points, args.rss_cap_s, args.low_rates = [10_000, 100_000, 1_000_000], 90, \
            [2000, 4000]
    systems = [s for s in args.systems.split(",") if s]
    bench = Bench(args)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    os.makedirs(args.results, exist_ok=True)
    ensure_node_red(systems)
    report = {"started": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
              "quick": args.quick, "qos": args.qos, "journal_sync": args.journal_sync,
              "step_s": args.step_s,
              "rounds": args.rounds, "systems": systems, "nice": args.nice,
              "command": " ".join(["python3", "bench/e2e/run.py"] + sys.argv[1:]),
              "tree": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip()}
    t0 = time.monotonic()

    log("== 1. zero-loss maximum: interleaved searches")
    rounds = bench.max_rates(systems, args.rounds)
    report["max_rate_rounds"] = rounds
    best = {s: median(rounds[s]) for s in systems}
    report["max_rate"] = best

    log("== 2. latency at low rates, every system (the plot's left end)")
    for rate in args.low_rates:
        for s in systems:
            if best[s] and rate < best[s]:
                bench.run_step(s, rate, args.latency_s, args.qos, label="low")

    g_max = best.get("G")
    report["latency_rates"] = {}
    if g_max:
        log("== 3. latency and CPU at 50 % and 80 % of G's maximum, and at 80 % of each one's own")
        for share in (0.5, 0.8):
            rate = round(g_max * share)
            report["latency_rates"][f"{int(share * 100)}"] = rate
            for s in systems:
                bench.run_step(s, rate, args.latency_s, args.qos, label=f"lat{int(share * 100)}")
    for s in systems:
        if best[s] and not (s == "G" and g_max):
            bench.run_step(s, round(best[s] * 0.8), args.latency_s, args.qos, label="own80")

    log("== 4. peak RSS as distinct devices report")
    for s in systems:
        if s == "B0" or not best[s]:
            continue
        rate = round(best[s] * 0.8)
        plan, first = [], 0
        for target in args.rss_points:
            step = min(target - first, int(rate * args.rss_cap_s))
            first += step
            plan.append(first)
        bench.run_step(s, rate, 0, args.qos, devices=max(args.rss_points), chunks=plan,
                       label="rss")

    if g_max and "G" in systems:
        log("== 5. perf profile of G at its maximum")
        rec = bench.run_step("G", round(g_max), args.profile_s + 2, args.qos, profile_s=args.profile_s,
                             label="profile")
        report["profile"] = profile(rec)

    report["steps"] = bench.steps
    report["machine"]["loadavg_end"] = machine()["loadavg_start"]
    report["machine"]["uptime_end"] = machine()["uptime"]
    report["duration_s"] = round(time.monotonic() - t0)
    write_results(report, args)
    log(f"done in {report['duration_s']} s: {os.path.relpath(args.results)}/e2e.md, e2e.json, "
        "e2e_latency.png")


def write_results(report, args):
    with open(os.path.join(args.results, "e2e.json"), "w") as f:
        json.dump(report, f, indent=1)
    plot(report, os.path.join(args.results, "e2e_latency.png"), args.work)
    with open(os.path.join(args.results, "e2e.md"), "w") as f:
        f.write(markdown(report))


def rerender(args):
    """The report and plot again from bench/results/e2e.json (and the profile from
    the run's perf.data, while bench/out/e2e still holds it)."""
    with open(os.path.join(args.results, "e2e.json")) as f:
        report = json.load(f)
    prof = [st for st in report["steps"] if st["label"] == "profile"]
    if prof and os.path.exists(os.path.join(ROOT, prof[-1]["dir"], "perf.data")):
        report["profile"] = profile(prof[-1])
    write_results(report, args)


# --- profile --------------------------------------------------------------------------

# User-space samples of G's profile by library or namespace: (category, pattern
# on "dso symbol"), first match wins. Kernel samples go by the system call they
# are under (see classify_sample).
USER_CATEGORIES = [
    ("Paho MQTT C/C++ client (user space)", r"libpaho"),
    ("RocksDB (journal, case store, checkpoints)", r"librocksdb|rocksdb::"),
    ("JSON decode (simdjson, PayloadDecoder)", r"simdjson|Decode|ondemand"),
    ("spinning and locks (user space)", r"WaitForWork|pthread_mutex|pthread_cond|lll_lock|"
     r"__futex|MessageRing|absl::.*Mutex|sem_"),
    ("malloc/free", r"malloc|free|_int_|operator new|operator delete|cfree|tcache"),
    ("rule evaluation", r"precall::rules"),
    ("device state and windows", r"precall::devices"),
    ("rest of precall (worker, cases, checkpoints)", r"precall"),
    ("libc strings, memcpy, printf", r"libc\.so|libstdc\+\+"),
]
SYSCALL_CATEGORIES = [
    ("kernel: futex (threads parking and waking each other)", {"futex"}),
    ("kernel: poll (waiting for the socket)", {"poll", "ppoll", "select", "pselect6",
                                               "epoll_wait", "epoll_pwait"}),
    ("kernel: socket receive", {"recvfrom", "recvmsg", "read", "readv"}),
    ("kernel: socket send and file writes", {"sendto", "sendmsg", "write", "writev", "pwrite64",
                                             "fdatasync", "fsync"}),
]
# A sample taken on the way back from a system call (the thread was preempted
# by the one it had just woken) has lost its __x64_sys_ frame: the libc
# function that made the call names it instead.
LIBC_CALLS = [(r"pthread_cond|lll_lock|futex|sem_post|sem_wait", "futex"),
              (r"poll|select|epoll", "poll"), (r"recv|read", "recvfrom"),
              (r"send|write", "writev")]


def classify_sample(frames):
    """The cost category of one perf sample, its call chain leaf first."""
    leaf_sym, leaf_dso = frames[0]
    if leaf_dso == "[kernel.kallsyms]":
        names = [sym for sym, dso in frames if dso == "[kernel.kallsyms]"]
        call = next((n[len("__x64_sys_"):] for n in reversed(names)
                     if n.startswith("__x64_sys_")), None)
        user = next((sym for sym, dso in frames if dso != "[kernel.kallsyms]"), "")
        if call is None and "entry_SYSCALL_64_after_hwframe" in names:
            call = next((c for pat, c in LIBC_CALLS if re.search(pat, user)), None)
        if call:
            for name, calls in SYSCALL_CATEGORIES:
                if call in calls:
                    return name
            return "kernel: other system calls"
        if any("page_fault" in n for n in names):
            return "kernel: page faults"
        return "kernel: interrupts and the scheduler"
    key = f"{leaf_dso} {leaf_sym}"
    return next((c for c, pat in USER_CATEGORIES if re.search(pat, key)), "other")


def perf_samples(data):
    """Every sample of a perf.data as (thread, [(symbol, dso), ...] leaf first)."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym,dso"],
                         capture_output=True, text=True).stdout
    samples, comm, frames = [], None, []
    for line in out.splitlines() + [""]:
        if not line.strip():
            if comm is not None and frames:
                samples.append((comm, frames))
            comm, frames = None, []
        elif not line[0].isspace():
            comm = line.split()[0]
        else:
            m = re.match(r"\s*[0-9a-f]+ (.*) \((.*)\)$", line)
            if m:
                frames.append((re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)))
    return samples


def profile(rec):
    """G's perf profile at its maximum, turned into µs per message by cost."""
    data = os.path.join(ROOT, rec["dir"], "perf.data")
    if not os.path.exists(data) or not rec.get("sent") or not rec.get("cpu_s"):
        err = os.path.join(ROOT, rec["dir"], "perf.err")
        return {"error": open(err).read().strip() if os.path.exists(err) else "no perf data"}
    us = rec["cpu_s"]["sut"] / rec["sent"] * 1e6
    samples = perf_samples(data)
    cats, threads = {}, {}
    for comm, frames in samples:
        c = cats.setdefault(classify_sample(frames), {"n": 0, "leaf": {}, "threads": {}})
        c["n"] += 1
        c["leaf"][frames[0][0]] = c["leaf"].get(frames[0][0], 0) + 1
        c["threads"][comm] = c["threads"].get(comm, 0) + 1
        threads[comm] = threads.get(comm, 0) + 1
    total = max(1, len(samples))

    def top(d, k):
        return [[round(v / total * 100, 1), key] for key, v in
                sorted(d.items(), key=lambda kv: -kv[1])[:k]]
    categories = [{"name": name, "pct": round(c["n"] / total * 100, 1),
                   "us_per_msg": round(c["n"] / total * us, 2),
                   "top": top(c["leaf"], 3), "threads": top(c["threads"], 3)}
                  for name, c in sorted(cats.items(), key=lambda kv: -kv[1]["n"])]
    return {"rate": rec["rate"], "sent": rec["sent"], "pass": rec.get("pass"),
            "seconds": rec.get("profile_s"), "samples": len(samples),
            "us_per_msg": round(us, 2), "categories": categories,
            "threads": top(threads, 8), "thread_cpu_s": rec.get("threads_cpu_s")}


# --- the report --------------------------------------------------------------------------

def plot(report, png, work):
    """Latency (p50, p99) against offered rate per system, lines through the steps
    that passed; crosses: the p99 of steps that failed."""
    if shutil.which("gnuplot") is None:
        log("gnuplot is missing: no plot")
        return
    colors = {"B0": "#1b9e77", "G": "#d95f02", "N": "#7570b3"}
    cmds = []
    for s in report["systems"]:
        pts = sorted((st["rate"], st["latency_us"]["p50"] / 1000, st["latency_us"]["p99"] / 1000,
                      1 if st.get("pass") else 0)
                     for st in report["steps"]
                     if st["system"] == s and st.get("latency_us") and st["label"] != "rss"
                     and st["latency_us"].get("count"))
        if not pts:
            continue
        paths = {}
        for ok in (1, 0):
            paths[ok] = os.path.join(work, f"plot-{s}-{'pass' if ok else 'fail'}.dat")
            with open(paths[ok], "w") as f:
                for p in pts:
                    if p[3] == ok:
                        f.write("%g %g %g\n" % p[:3])
        c = colors[s]
        cmds += [f"'{paths[1]}' u 1:2 w lp lw 2 pt 7 ps 0.6 lc rgb '{c}' t '{s} p50'",
                 f"'{paths[1]}' u 1:3 w lp lw 2 dt 2 pt 6 ps 0.6 lc rgb '{c}' t '{s} p99'",
                 f"'{paths[0]}' u 1:3 w p pt 2 ps 1.2 lc rgb '{c}' notitle"]
    script = "\n".join([
        "set terminal pngcairo size 1000,600 font 'DejaVu Sans,10'",
        f"set output '{png}'",
        "set logscale xy", "set grid xtics ytics mxtics mytics lc rgb '#dddddd'",
        "set xlabel 'offered rate (messages/s, open loop)'",
        "set ylabel 'latency from intended send (ms)'",
        "set title 'publish → case (G, N) and publish → delivery (B0), steps that passed; "
        "crosses: p99 of steps that failed (loss or backlog)'",
        "set key top left", "set format x '%.0s%c'",
        "plot " + ", ".join(cmds)])
    subprocess.run(["gnuplot"], input=script, text=True, check=False)


def ms(us):
    return "–" if us is None else (f"{us / 1000:.2f}" if us < 10_000 else f"{us / 1000:.0f}")


def markdown(r):
    systems = r["systems"]
    steps = r["steps"]
    best = r["max_rate"]

    def ratio(a, b, invert=False):
        if not a or not b:
            return "–"
        return f"{(b / a if invert else a / b):.2f}"

    def step(system, label):
        xs = [st for st in steps if st["system"] == system and st["label"] == label]
        return xs[-1] if xs else None

    def lat(system, label):
        st = step(system, label)
        if not st or not st.get("latency_us"):
            return "–"
        l = st["latency_us"]
        tail = "" if st.get("pass") else " ✗"
        return f"{ms(l['p50'])} / {ms(l['p99'])} / {ms(l['p999'])}{tail}"

    def cpu_per_100k(system, label, who):
        st = step(system, label)
        if not st or not st.get("cpu_s") or st["cpu_s"].get(who) is None or not st.get("sent"):
            return None
        return st["cpu_s"][who] / st["sent"] * 1e5

    def cpu_label(system):
        return "lat80" if system == "G" else "own80"

    def rss(system, i):
        st = step(system, "rss")
        if not st or not st.get("rss") or len(st["rss"]) <= i or not st["rss"][i]["vm_hwm_kb"]:
            return None, None
        x = st["rss"][i]
        return x["vm_hwm_kb"] / 1024, x["devices"]

    m = r["machine"]
    lines = [
        "# End-to-end benchmark: Precall against the broker's limit and Node-RED",
        "",
        f"Generated by `{r['command']}` (what `make bench-e2e` runs; bench/README.md) on "
        f"{r['started']} in a tree at {r['tree']}, "
        f"{'quick mode' if r['quick'] else 'full run'}, {r['duration_s']} s. "
        f"Machine: {m['cpus']} × {m['cpu']}, shared by publisher, broker and system under test "
        f"(and by other work: load average {' '.join(m['loadavg_start'])} at the start, "
        f"{' '.join(m['loadavg_end'])} at the end; `uptime` at the end: `{m['uptime_end']}`"
        + (f"; everything ran at niceness {r['nice']} to keep background work off the "
           "measurement" if r.get("nice") else "") + ").",
        "",
        f"Load: open loop, QoS {r['qos']} end to end, 100,000 devices over 4 connections, "
        f"~{steps[0].get('payload_bytes', 0):.0f}-byte samples (9 metrics), 1 % of them "
        "breaking one of 3 instant rules so that each opens exactly one case; "
        f"{r['step_s']} s per step, a fresh mosquitto and a fresh system for every step. "
        "G runs bench/e2e/rules.yaml (27 rules: 13 per model, 9 of them over windows, most with "
        f"`for`, plus silent()) with its journal on (journal_sync: {r.get('journal_sync', 'group')}); "
        "N runs the same rules in a "
        "Node-RED function node. A step passes when every message was delivered (B0: every "
        "seq, in order) or every expected case opened exactly once (G, N; G's /metrics also "
        "counted every sample processed, none rejected), the broker's dropped counter did not "
        f"move, the publisher kept its schedule (≤ {MAX_PUBLISHER_LAG_US // 1000} ms behind) and "
        f"no backlog grew (what was due in the run's last second arrived within "
        f"{MAX_TAIL_LAG_US // 1000} ms).",
        "",
        "## Results",
        "",
        "| metric | " + " | ".join(NAMES[s] for s in systems) + " | G/B0 | G/N |",
        "|---|" + "---|" * (len(systems) + 2),
    ]

    def row(name, values, g_b0="–", g_n="–"):
        lines.append(f"| {name} | " + " | ".join(values) + f" | {g_b0} | {g_n} |")

    rounds = r["max_rate_rounds"]
    row(f"zero-loss max rate, msg/s (median of {r['rounds']} round{'s' if r['rounds'] > 1 else ''})",
        [f"**{best[s]:,.0f}**" if best[s] else "none passed" for s in systems],
        ratio(best.get("G"), best.get("B0")), ratio(best.get("G"), best.get("N")))
    row("… per round", [", ".join(f"{x:,.0f}" if x else "–" for x in rounds[s]) for s in systems])
    for share in ("50", "80"):
        rate = r["latency_rates"].get(share)
        if rate:
            row(f"latency p50 / p99 / p999, ms, at {share} % of G's max ({rate:,} msg/s)",
                [lat(s, f"lat{share}") for s in systems])
    for who, name in (("sut", "system under test"), ("broker", "broker"),
                      ("publisher", "publisher")):
        vals = {s: cpu_per_100k(s, cpu_label(s), who) for s in systems}
        row(f"CPU s per 100k msgs at 80 % of own max: {name}",
            [f"{v:.2f}" if v is not None else "–" for v in vals.values()],
            ratio(vals.get("G"), vals.get("B0")), ratio(vals.get("G"), vals.get("N")))
    for i in range(3):
        vals = {s: rss(s, i) for s in systems}
        if not any(v[0] for v in vals.values()):
            continue
        devs = next(v[1] for v in vals.values() if v[1])
        row(f"peak RSS (VmHWM), MB, after {devs:,} devices",
            [f"{v[0]:.0f}" + (f" ({v[1]:,} devices)" if v[1] != devs else "") if v[0] else "–"
             for v in vals.values()],
            g_n=ratio(vals.get("G", (None,))[0], vals.get("N", (None,))[0]))
    lines += ["", "B0's \"system under test\" is the null subscriber; its latency is publish → "
              "delivery of every sample, G's and N's publish → case of the breaking samples. "
              "✗: that step failed (see every step below).", ""]

    # Targets
    g, b0, n = best.get("G"), best.get("B0"), best.get("N")
    g_cpu = cpu_per_100k("G", "lat80", "sut")
    n_cpu = cpu_per_100k("N", "own80", "sut")
    l50, l80 = step("G", "lat50"), step("G", "lat80")
    r100, r1m = rss("G", 1), rss("G", 2)

    def ok(cond):
        return "✓" if cond else "✗ missed"
    targets = [
        ("G's zero-loss rate ≥ 90 % of B0's (stretch 95 %)",
         f"{g / b0 * 100:.0f} %" if g and b0 else "–", ok(g and b0 and g >= 0.9 * b0)),
        ("G's CPU ≤ 1.0 s per 100,000 messages (stretch 0.5 s)",
         f"{g_cpu:.2f} s" if g_cpu else "–", ok(g_cpu and g_cpu <= 1.0)),
        ("latency at 50 %: p50 ≤ 1 ms, p99 ≤ 5 ms",
         f"p50 {ms(l50['latency_us']['p50'])} ms, p99 {ms(l50['latency_us']['p99'])} ms"
         if l50 and l50.get("latency_us") else "–",
         ok(l50 and l50.get("latency_us") and l50["latency_us"]["p50"] <= 1000
            and l50["latency_us"]["p99"] <= 5000)),
        ("latency at 80 %: p99 ≤ 20 ms",
         f"p99 {ms(l80['latency_us']['p99'])} ms" if l80 and l80.get("latency_us") else "–",
         ok(l80 and l80.get("latency_us") and l80["latency_us"]["p99"] <= 20000)),
        ("RSS ≤ 150 MB at 100,000 devices",
         f"{r100[0]:.0f} MB" if r100[0] else "–", ok(r100[0] and r100[0] <= 150)),
        ("RSS ≤ 40 MB per further 100,000 devices",
         f"{(r1m[0] - r100[0]) / ((r1m[1] - r100[1]) / 100_000):.1f} MB"
         if r1m[0] and r100[0] and r1m[1] > r100[1] else "–",
         ok(r1m[0] and r100[0] and r1m[1] > r100[1]
            and (r1m[0] - r100[0]) / ((r1m[1] - r100[1]) / 100_000) <= 40)),
        ("G ≥ 3× N's zero-loss rate", f"{g / n:.1f}×" if g and n else "–", ok(g and n and g >= 3 * n)),
        ("… at ≤ 1/3 of N's CPU per message", f"{g_cpu / n_cpu:.2f} of N's" if g_cpu and n_cpu
         else "–", ok(g_cpu and n_cpu and g_cpu <= n_cpu / 3)),
    ]
    lines += ["## Targets (issue 5)", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {t} | {v} | {o} |" for t, v, o in targets]
    lines += ["", "## Latency against offered rate", "",
              "![latency vs offered rate](e2e_latency.png)", "",
              "Every step of the searches and the fixed-rate runs: p50 solid and p99 dashed "
              "through the steps that passed, crosses at the p99 of the steps that failed "
              "(loss, or a backlog that grew).", ""]

    p = r.get("profile")
    if p:
        lines += ["## Where G's time goes (perf at its maximum)", ""]
        if p.get("error"):
            lines += [f"perf failed: `{p['error']}`", ""]
        else:
            lines += [
                f"`perf record -F 999 -g -p <precall>` for {p['seconds']} s of a run at "
                f"{p['rate']:,.0f} msg/s ({'passed' if p['pass'] else 'failed'}); "
                f"G used **{p['us_per_msg']:.1f} µs of CPU per message** ({p['samples']:,} "
                "samples), split by cost: kernel samples by the system call they fell under "
                "(a thread preempted on its way back from waking another counts for that "
                "call), user-space samples by library or namespace. Threads: `MQTTAsync_rcv` "
                "is Paho's receive thread, which runs the ingest callback (journal append, "
                "hand-over to a worker); `precall` are the workers, the main thread and the "
                "egress.", "",
                "| cost | share of G's CPU | µs per message | top symbols | threads |",
                "|---|---|---|---|---|"]
            for c in p["categories"][:9]:
                top = "; ".join(f"`{leaf}` {pct:.1f} %" for pct, leaf in c["top"])
                threads = ", ".join(f"{who} {pct:.1f} %" for pct, who in c["threads"])
                lines.append(f"| {c['name']} | {c['pct']:.1f} % | {c['us_per_msg']:.2f} | "
                             f"{top} | {threads} |")
            top3 = p["categories"][:3]
            lines += ["", "**Top three costs per message:** " + "; ".join(
                f"{i}. {c['name']}, {c['us_per_msg']:.1f} µs ({c['pct']:.0f} %)"
                for i, c in enumerate(top3, 1)) + "."]
            lines += ["", "CPU by thread (from /proc, whole run): " + ", ".join(
                f"{k} {v:.2f} s" for k, v in sorted((p.get("thread_cpu_s") or {}).items(),
                                                      key=lambda kv: -kv[1])) + ".", ""]
    lines += ["## Every step", "",
              "| # | system | rate msg/s | run | result | p50 ms | p99 ms | p999 ms | tail lag ms | "
              "CPU s: system / broker / publisher | peak RSS MB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, st in enumerate(steps, 1):
        l = st.get("latency_us") or {}
        c = st.get("cpu_s") or {}
        res = "pass" if st.get("pass") else "fail: " + "; ".join(st.get("reasons", []))
        cpu = " / ".join(f"{c[k]:.2f}" if c.get(k) is not None else "–"
                         for k in ("sut", "broker", "publisher"))
        hwm = f"{st['vm_hwm_kb'] / 1024:.0f}" if st.get("vm_hwm_kb") else "–"
        lines.append(f"| {i} | {st['system']} | {st['rate']:,.0f} | {st['label']} | {res} | "
                     f"{ms(l.get('p50'))} | {ms(l.get('p99'))} | {ms(l.get('p999'))} | "
                     f"{ms(st.get('tail_lag_us'))} | {cpu} | {hwm} |")
    lines.append("")
    return "\n".join(lines)


def set_niceness(nice):
    """With autogroup scheduling (Linux's default for desktops and many VMs) a
    process's nice only counts inside its session: the benchmark gets a session
    of its own and gives that group the niceness too."""
    try:
        os.setsid()
    except OSError:
        pass  # already a session leader
    try:
        os.nice(nice)
        if os.path.exists("/proc/self/autogroup"):
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
    except OSError as e:
        sys.exit(f"run.py: cannot set niceness {nice}: {e}")


def ensure_node_red(systems):
    if "N" not in systems or os.path.exists(os.path.join(HERE, "node_modules", "node-red")):
        return
    if shutil.which("npm") is None:
        sys.exit("run.py: npm is missing (deploy/install-deps.sh installs it)")
    log("installing Node-RED into bench/e2e/node_modules (npm ci)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--omit=dev"], cwd=HERE, check=True)


def machine():
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": model, "loadavg_start": load,
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}


if __name__ == "__main__":
    main()
