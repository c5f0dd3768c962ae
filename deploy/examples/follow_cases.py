#!/usr/bin/env python3
"""Follows a Precall gateway's case events the way a service center would:
long-polls GET /v1/changes from a cursor (CONTRACT §4) and prints each case
for a person as it opens — which machine, how severe, the probable cause, who
to send with which parts — and a line when one resolves. Runs until killed.

usage: follow_cases.py --api http://127.0.0.1:8080 [--token T]
"""
import argparse
import datetime
import json
import sys
import time
import urllib.error
import urllib.request

COLORS = {"critical": "\033[1;31m", "major": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
RESET = "\033[0m"


def show(event, color):
    case = event["case"]
    when = datetime.datetime.fromtimestamp(event["at"] / 1000).strftime("%H:%M:%S")
    sev = case["severity"]
    tag = f"{sev.upper():<8}"
    if color:
        tag = f"{COLORS.get(sev, '')}{tag}{RESET}"
    who = f"{case['device']} ({case['model'] or '?'})"
    if event["type"] == "resolved":
        by = "by itself" if case["resolved_by"] == "auto" else f"by {case['resolved_by']}"
        print(f"{when}  resolved  {who}  {case['rule']} ({by})")
        return
    if event["type"] not in ("opened", "reopened"):
        return
    again = "  (again)" if event["type"] == "reopened" else ""
    print(f"{when}  {tag}  {who:<20} {case['rule']}{again}")
    print(f"{'':10}{case['diagnosis']}")
    parts = ", ".join(case["parts"]) or "no parts listed"
    print(f"{'':10}send: {case['skill'] or 'any technician'} with {parts}")
    if case["evidence"]:
        print(f"{'':10}evidence: " + ", ".join(f"{k}={v}" for k, v in case["evidence"].items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--api", required=True, help="the gateway's API, http://host:port")
    ap.add_argument("--token", default="", help="bearer token")
    args = ap.parse_args()
    color = sys.stdout.isatty()
    after = 0
    while True:
        req = urllib.request.Request(f"{args.api}/v1/changes?after={after}&limit=500&wait=25")
        if args.token:
            req.add_header("Authorization", f"Bearer {args.token}")
        try:
            with urllib.request.urlopen(req, timeout=40) as r:
                page = json.load(r)
        except urllib.error.HTTPError as e:  # a wrong token does not heal by asking again
            sys.exit(f"follow_cases: {e.code} {e.read().decode(errors='replace')}")
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(1)  # the gateway is starting or restarting: ask again
            continue
        for event in page["events"]:
            show(event, color)
        sys.stdout.flush()
        after = page["next"]


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
