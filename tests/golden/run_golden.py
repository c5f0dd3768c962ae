#!/usr/bin/env python3
"""Runs one golden replay scenario against the `precall` binary.

    run_golden.py DIR --precall BIN

DIR holds rules.yaml, optional devices.yaml, input.jsonl, expected.jsonl and
optional expected_stderr.txt (see README.md next to this file). The scenario
passes when `precall replay` run twice in DIR

  * exits 0 both times, with byte-identical stdout,
  * prints one JSON object per line whose `seq` is 1, 2, 3, ... (gapless),
  * prints exactly as many events as expected.jsonl has lines, and every
    expected line matches its event (recursive subset match, placeholders for
    case ids, lists compared exactly),
  * and every non-empty line of expected_stderr.txt occurs in its stderr.

Exit 0 on success, 1 on a failed scenario, 2 on a broken scenario or usage.
Python 3.11, standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys

TIMEOUT_S = 120
PLACEHOLDER = re.compile(r"^\$[A-Za-z0-9_]+$")
URL_SAFE_ID = re.compile(r"^[A-Za-z0-9._~-]+$")
EXACT_MARKER = "$exact"


class ScenarioError(Exception):
    """The scenario itself is broken (missing file, bad expected line)."""


class Mismatch(Exception):
    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def short(value, limit=200):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Matcher:
    """Recursive subset match with case-id placeholders.

    * An expected object matches when every key it lists (except "$exact")
      is in the actual object and matches; extra actual keys are fine unless
      the expected object has "$exact": true, then the key sets must be equal.
    * Lists match element by element and must have the same length.
    * Numbers compare by value (1 == 1.0); booleans only match booleans.
    * A string like "$a" as the value of an "id" key is a placeholder: the
      first use binds it to the actual id, later uses must see the same id,
      and two different placeholders never bind the same id.
    """

    def __init__(self):
        self.bindings = {}  # placeholder -> actual id
        self.bound_ids = {}  # actual id -> placeholder

    def match(self, expected, actual, path, key=None):
        if key == "id" and isinstance(expected, str) and PLACEHOLDER.match(expected):
            self.bind(expected, actual, path)
            return
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                raise Mismatch(path, f"expected an object, got {short(actual)}")
            exact = expected.get(EXACT_MARKER) is True
            for k, v in expected.items():
                if k == EXACT_MARKER:
                    continue
                if k not in actual:
                    raise Mismatch(f"{path}.{k}", f"missing (expected {short(v)})")
                self.match(v, actual[k], f"{path}.{k}", k)
            if exact:
                extra = sorted(set(actual) - (set(expected) - {EXACT_MARKER}))
                if extra:
                    raise Mismatch(path, f"unexpected keys {extra} in {short(actual)}")
            return
        if isinstance(expected, list):
            if not isinstance(actual, list):
                raise Mismatch(path, f"expected a list, got {short(actual)}")
            if len(expected) != len(actual):
                raise Mismatch(path, f"expected {short(expected)}, got {short(actual)}")
            for i, (e, a) in enumerate(zip(expected, actual)):
                self.match_exact_item(e, a, f"{path}[{i}]")
            return
        if isinstance(expected, bool) or expected is None or isinstance(expected, str):
            if type(actual) is not type(expected) or actual != expected:
                raise Mismatch(path, f"expected {short(expected)}, got {short(actual)}")
            return
        if is_number(expected):
            if not is_number(actual) or actual != expected:
                raise Mismatch(path, f"expected {short(expected)}, got {short(actual)}")
            return
        raise ScenarioError(f"{path}: unsupported expected value {expected!r}")

    def match_exact_item(self, expected, actual, path):
        # Lists compare exactly: objects inside a list must have the same keys.
        if isinstance(expected, dict) and EXACT_MARKER not in expected:
            expected = dict(expected)
            expected[EXACT_MARKER] = True
        self.match(expected, actual, path)

    def bind(self, placeholder, actual, path):
        if not isinstance(actual, str) or not URL_SAFE_ID.match(actual):
            raise Mismatch(path, f"case id must be a non-empty URL-safe string, got {short(actual)}")
        if placeholder in self.bindings:
            if self.bindings[placeholder] != actual:
                raise Mismatch(
                    path,
                    f"placeholder {placeholder} was bound to {self.bindings[placeholder]!r}, "
                    f"now the id is {actual!r} (expected the same case)",
                )
            return
        if actual in self.bound_ids:
            raise Mismatch(
                path,
                f"placeholder {placeholder} would bind {actual!r}, already bound to "
                f"{self.bound_ids[actual]} (expected a different case)",
            )
        self.bindings[placeholder] = actual
        self.bound_ids[actual] = placeholder


def summary(event):
    """One line per event for the overview printed on failure."""
    if not isinstance(event, dict):
        return short(event, 100)
    case = event.get("case") if isinstance(event.get("case"), dict) else {}
    parts = [
        f"seq={event.get('seq', '?')}",
        f"{event.get('type', '?')}",
        f"at={event.get('at', '?')}",
        f"id={case.get('id', '?')}",
        f"{case.get('tenant', '?')}/{case.get('device', '?')}",
        f"rule={case.get('rule', '?')}",
        f"occ={case.get('occurrences', '?')}",
    ]
    return " ".join(str(p) for p in parts)


def read_expected(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise ScenarioError(f"{path}:{lineno}: not JSON: {e}") from e
            if not isinstance(value, dict):
                raise ScenarioError(f"{path}:{lineno}: not a JSON object")
            events.append((lineno, value))
    return events


def run_replay(binary, directory):
    cmd = [binary, "replay", "--rules", "rules.yaml"]
    if os.path.exists(os.path.join(directory, "devices.yaml")):
        cmd += ["--devices", "devices.yaml"]
    cmd += ["--input", "input.jsonl"]
    try:
        proc = subprocess.run(cmd, cwd=directory, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return cmd, None
    except OSError as e:
        raise ScenarioError(f"cannot run {binary}: {e}") from e
    return cmd, proc


def first_difference(a, b):
    a_lines = a.split(b"\n")
    b_lines = b.split(b"\n")
    for i, (x, y) in enumerate(zip(a_lines, b_lines)):
        if x != y:
            return i + 1, x, y
    n = min(len(a_lines), len(b_lines))
    return n + 1, b"\n".join(a_lines[n:])[:300], b"\n".join(b_lines[n:])[:300]


def run(directory, binary):
    name = os.path.basename(os.path.normpath(directory))
    for required in ("rules.yaml", "input.jsonl", "expected.jsonl"):
        if not os.path.exists(os.path.join(directory, required)):
            raise ScenarioError(f"{directory}: missing {required}")
    expected = read_expected(os.path.join(directory, "expected.jsonl"))

    failures = []
    cmd, first = run_replay(binary, directory)
    command_text = " ".join(cmd)
    if first is None:
        return [f"`{command_text}` timed out after {TIMEOUT_S}s"]
    stderr_text = first.stderr.decode("utf-8", "replace")
    if first.returncode != 0:
        stdout_text = first.stdout.decode("utf-8", "replace")
        failures.append(
            f"`{command_text}` (cwd {directory}): exit status {first.returncode}, expected 0\n"
            f"--- stdout ---\n{stdout_text[-4000:]}\n--- stderr ---\n{stderr_text[-4000:]}"
        )
        return failures
    _, second = run_replay(binary, directory)
    if second is None:
        return [f"second run of `{command_text}` timed out"]
    if second.returncode != 0:
        failures.append(f"second run: exit status {second.returncode}, expected 0")
    if first.stdout != second.stdout:
        line, a, b = first_difference(first.stdout, second.stdout)
        failures.append(
            "output is not deterministic: two runs differ first at stdout line "
            f"{line}\n  run 1: {a.decode('utf-8', 'replace')}\n  run 2: {b.decode('utf-8', 'replace')}"
        )

    # Parse the events.
    try:
        text = first.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        return failures + [f"stdout is not UTF-8: {e}"]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    actual = []
    for i, line in enumerate(lines, 1):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            failures.append(f"stdout line {i} is not JSON ({e}): {line[:300]!r}")
            return failures
        if not isinstance(value, dict):
            failures.append(f"stdout line {i} is not a JSON object: {line[:300]!r}")
            return failures
        actual.append(value)

    for i, event in enumerate(actual, 1):
        seq = event.get("seq")
        if not is_number(seq) or seq != i:
            failures.append(
                f"event {i}: seq must be {i} (gapless, starting at 1), got {short(seq)}"
            )
            break

    if len(actual) != len(expected):
        failures.append(f"expected {len(expected)} events, got {len(actual)}")

    matcher = Matcher()
    mismatches = 0
    for i, ((lineno, exp), act) in enumerate(zip(expected, actual), 1):
        try:
            matcher.match(exp, act, "event")
        except Mismatch as m:
            mismatches += 1
            if mismatches <= 5:
                failures.append(
                    f"event {i} (expected.jsonl line {lineno}): {m.path}: {m.message}\n"
                    f"  expected: {json.dumps(exp, sort_keys=True)}\n"
                    f"  actual:   {json.dumps(act, sort_keys=True)}"
                )
    if mismatches > 5:
        failures.append(f"... and {mismatches - 5} more mismatching events")

    stderr_path = os.path.join(directory, "expected_stderr.txt")
    if os.path.exists(stderr_path):
        with open(stderr_path, encoding="utf-8") as f:
            for want in (line.rstrip("\n") for line in f):
                if want.strip() and want not in stderr_text:
                    failures.append(f"stderr does not contain {want!r}")

    if failures and (len(actual) != len(expected) or mismatches):
        overview = ["side by side (expected | actual):"]
        for i in range(max(len(expected), len(actual))):
            e = summary(expected[i][1]) if i < len(expected) else "-"
            a = summary(actual[i]) if i < len(actual) else "-"
            marker = "  " if i < len(expected) and i < len(actual) else "!!"
            overview.append(f"{marker}{i + 1:3}: {e}\n        | {a}")
        failures.append("\n".join(overview))
        if stderr_text.strip():
            failures.append("--- stderr (last 2000 chars) ---\n" + stderr_text[-2000:])
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="scenario folder (tests/data/replay/<name>)")
    parser.add_argument("--precall", required=True, help="path to the precall binary")
    args = parser.parse_args()
    binary = os.path.abspath(args.precall)
    directory = os.path.abspath(args.directory)
    name = os.path.basename(directory)
    try:
        failures = run(directory, binary)
    except ScenarioError as e:
        print(f"golden.{name}: BROKEN: {e}")
        return 2
    if failures:
        print(f"golden.{name}: FAIL ({directory})")
        for f in failures:
            print(f)
        return 1
    print(f"golden.{name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
