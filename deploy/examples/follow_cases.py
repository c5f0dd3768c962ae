#!/usr/bin/env python3
"""Reads case events (JSON lines, as `precall replay` prints them or
/v1/changes returns them) on stdin and prints them for a person: when, what
happened, which machine, the probable cause, the skill and the parts."""
import datetime
import json
import sys

COLORS = {"critical": "\033[1;31m", "major": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
RESET = "\033[0m"


def main() -> None:
    color = sys.stdout.isatty()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        event = json.loads(line)
        case = event["case"]
        when = datetime.datetime.fromtimestamp(event["at"] / 1000, datetime.timezone.utc)
        sev = case["severity"]
        tag = f"{COLORS.get(sev, '')}{sev:<8}{RESET}" if color else f"{sev:<8}"
        who = f"{case['tenant']}/{case['device']} ({case['model'] or '?'})"
        print(f"{when:%H:%M:%S} #{event['seq']:<3} {event['type']:<12} {tag} {who:<28} {case['rule']}")
        if event["type"] in ("opened", "reopened"):
            lead = (event["at"] - case["fault_started_at"]) / 1000
            print(f"{'':14}cause: {case['diagnosis']}")
            print(f"{'':14}send:  {case['skill'] or 'any technician'} with "
                  f"{', '.join(case['parts']) or 'no parts listed'}  (fault began {lead:.0f} s earlier)")
            if case["evidence"]:
                print(f"{'':14}evidence: " + ", ".join(f"{k}={v}" for k, v in case["evidence"].items()))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
