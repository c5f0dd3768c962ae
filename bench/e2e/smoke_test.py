#!/usr/bin/env python3
"""Smoke test of the end-to-end benchmark (part of `make test`): one short step
each of B0 and G through bench/e2e/run.py's own machinery, on a real mosquitto
in a temporary directory, at a rate any build keeps up with.

What it holds the benchmark to is counts, never time: the null subscriber got
every seq of every device in order, and the gateway opened exactly the cases
the load generator predicted from the fleet's rule (bench/e2e/fleet.h) and
added exactly the predicted occurrences, and processed every sample. One
sample in two breaks a rule here, so that devices break the same rule again
(occurrences) within a few samples.

usage: smoke_test.py --precall BIN --load BIN --sink BIN
"""
import argparse
import os
import shutil
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as e2e  # noqa: E402

BINARIES = {}
# A step's reasons to fail that are counts or crashes; the others (publisher
# behind schedule, backlog) are timing, which a test does not assert.
COUNT_REASONS = ("received", "publisher sent", "broker dropped", "case events",
                 "gateway processed", "error", "sink exited", "publisher exited",
                 "precall serve exited")
DEVICES = 20
SAMPLES_PER_DEVICE = 10
BREAK_EVERY = 2


class SmokeTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="precall-e2e-smoke-")
        args = types.SimpleNamespace(build="", work=self.work, drain_s=60, journal_sync="strict")
        self.bench = e2e.Bench(args)
        self.bench.precall = BINARIES["precall"]
        self.bench.load = BINARIES["load"]
        self.bench.sink = BINARIES["sink"]

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def step(self, system):
        n = DEVICES * SAMPLES_PER_DEVICE
        return self.bench.run_step(system, rate=400, duration=n / 400, qos=1, devices=DEVICES,
                                   break_every=BREAK_EVERY)

    def test_null_subscriber_gets_every_seq_and_the_fleet_prediction_holds(self):
        rec = self.step("B0")
        self.assertEqual(rec["sent"], DEVICES * SAMPLES_PER_DEVICE, rec)
        self.assertFalse([r for r in rec["reasons"] if r.startswith(COUNT_REASONS)], rec)
        self.assertEqual(rec["latency_us"]["count"], rec["sent"], rec)
        # Device d breaks at its samples j with d + 19 j even: 5 of its 10. Its
        # k-th break trips rule k % 3, so breaks 0-2 open a case each and breaks
        # 3-4 add an occurrence to the cases breaks 0 and 1 opened.
        self.assertEqual(rec["expect_opened"], DEVICES * 3, rec)
        self.assertEqual(rec["expect_updated"], DEVICES * 2, rec)

    def test_gateway_opens_exactly_the_predicted_cases(self):
        rec = self.step("G")
        self.assertFalse([r for r in rec["reasons"] if r.startswith(COUNT_REASONS)], rec)
        self.assertEqual(rec["case_types"], {"opened": rec["expect_opened"],
                                             "updated": rec["expect_updated"]}, rec)
        # /metrics: every sample (the fleet's and the warm-up's) processed, none rejected.
        metrics = rec["gateway_metrics"]
        self.assertEqual(metrics["precall_messages_rejected_total"], 0, rec)
        self.assertEqual(metrics["precall_samples_processed_total"],
                         rec["sent"] + rec["warmup_samples"], rec)


def main():
    ap = argparse.ArgumentParser()
    for name in ("precall", "load", "sink"):
        ap.add_argument("--" + name, required=True)
    args, rest = ap.parse_known_args()
    BINARIES.update({k: os.path.abspath(v) for k, v in vars(args).items()})
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
