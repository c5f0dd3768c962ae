#!/usr/bin/env python3
"""Runs one `precall check` scenario.

    run_check.py DIR --precall BIN

DIR/args holds the arguments after `check` on one line (shell-style quoting),
e.g. `--rules rules.yaml --devices devices.yaml`; the command runs with
cwd=DIR. DIR/expected.txt holds one expected diagnostic per line:

    file:line:col: substring

The scenario passes when stdout's diagnostic lines (lines that look like
`file:line:col: message`) are exactly as many as expected.txt's lines and, in
order, each starts with exactly `file:line:col: ` and its message contains the
substring (case-insensitive); and the exit status is 1 if expected.txt has
lines, else 0. Other stdout lines (a summary, say) are allowed.

Exit 0 on success, 1 on a failed scenario, 2 on a broken scenario or usage.
Python 3.11, standard library only.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

TIMEOUT_S = 60
EXPECTED = re.compile(r"^([^:\s][^:]*):(\d+):(\d+):(?: (.*))?$")
DIAGNOSTIC = re.compile(r"^([^:\s][^:]*):(\d+):(\d+): ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="scenario folder (tests/data/check/<name>)")
    parser.add_argument("--precall", required=True, help="path to the precall binary")
    args = parser.parse_args()
    binary = os.path.abspath(args.precall)
    directory = os.path.abspath(args.directory)
    name = os.path.basename(directory)

    def broken(message):
        print(f"check.{name}: BROKEN SCENARIO: {message}")
        return 2

    try:
        with open(os.path.join(directory, "args"), encoding="utf-8") as f:
            arg_lines = [line for line in f.read().splitlines() if line.strip()]
        with open(os.path.join(directory, "expected.txt"), encoding="utf-8") as f:
            expected_lines = [line.rstrip("\n") for line in f if line.strip()]
    except OSError as e:
        return broken(str(e))
    if len(arg_lines) != 1:
        return broken("args must hold exactly one line")
    expected = []
    for i, line in enumerate(expected_lines, 1):
        m = EXPECTED.match(line)
        if not m:
            return broken(f"expected.txt line {i} is not `file:line:col: substring`: {line!r}")
        file_name, line_no, col, substring = m.groups()
        expected.append((f"{file_name}:{int(line_no)}:{int(col)}: ", (substring or "").strip()))

    cmd = [binary, "check"] + shlex.split(arg_lines[0])
    try:
        proc = subprocess.run(cmd, cwd=directory, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"check.{name}: FAIL: `{' '.join(cmd)}` timed out after {TIMEOUT_S}s")
        return 1
    except OSError as e:
        return broken(f"cannot run {binary}: {e}")
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    diagnostics = [line for line in stdout.splitlines() if DIAGNOSTIC.match(line)]

    failures = []
    want_status = 1 if expected else 0
    if proc.returncode != want_status:
        failures.append(f"exit status {proc.returncode}, expected {want_status}")
    for i, (prefix, substring) in enumerate(expected):
        if i >= len(diagnostics):
            failures.append(f"diagnostic {i + 1}: missing; expected `{prefix}...{substring}...`")
            continue
        got = diagnostics[i]
        if not got.startswith(prefix):
            failures.append(
                f"diagnostic {i + 1}: expected location `{prefix.rstrip()}`, got: {got}"
            )
        elif substring.lower() not in got[len(prefix):].lower():
            failures.append(
                f"diagnostic {i + 1}: message does not contain {substring!r}: {got}"
            )
    for i in range(len(expected), len(diagnostics)):
        failures.append(f"diagnostic {i + 1}: unexpected: {diagnostics[i]}")

    if failures:
        print(f"check.{name}: FAIL ({directory})")
        print(f"command: {' '.join(cmd)}  (cwd {directory})")
        for f in failures:
            print(f)
        print("expected:")
        for prefix, substring in expected:
            print(f"  {prefix}...{substring}...")
        print("--- stdout ---")
        print(stdout.rstrip() or "(empty)")
        if stderr.strip():
            print("--- stderr ---")
            print(stderr.rstrip()[-2000:])
            if not diagnostics and any(DIAGNOSTIC.match(l) for l in stderr.splitlines()):
                print("(note: diagnostics must go to stdout, they were found on stderr)")
        return 1
    print(f"check.{name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
