#!/usr/bin/env python3
"""The `precall` command line itself (CONTRACT §5): every --help explains its
command and exits 0, --version names the version, and usage errors (unknown
command or option, a missing or valueless required option) exit 2 with a
message on stderr, so they are never mistaken for exit 1, invalid rules; a file
argument that names a directory is an error (exit 1), not an empty file.

usage: cli_test.py --precall BIN [TestCase]
Python 3.11, standard library only.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest

PRECALL = None
USAGE_ERROR = 2


def run(*args):
    return subprocess.run([PRECALL, *args], capture_output=True, text=True, timeout=60)


class HelpTest(unittest.TestCase):
    def test_top_level_help_names_every_command(self):
        result = run("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        for command in ("check", "replay", "serve"):
            self.assertIn(command, result.stdout)

    def test_each_command_explains_its_options(self):
        for command, options in (("check", ["--rules", "--devices"]),
                                 ("replay", ["--rules", "--devices", "--input"]),
                                 ("serve", ["--config"])):
            with self.subTest(command=command):
                result = run(command, "--help")
                self.assertEqual(result.returncode, 0, result.stderr)
                for option in options:
                    self.assertIn(option, result.stdout)

    def test_version(self):
        result = run("--version")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout.strip(), r"^precall \d+\.\d+\.\d+$")


class UsageErrorTest(unittest.TestCase):
    def assertUsageError(self, args, message):
        result = run(*args)
        self.assertEqual(result.returncode, USAGE_ERROR, (args, result.stdout, result.stderr))
        self.assertIn(message, result.stderr)
        self.assertEqual(result.stdout, "")

    def test_no_command(self):
        self.assertUsageError([], "subcommand is required")

    def test_unknown_command_is_named(self):
        self.assertUsageError(["chek", "--rules", "r.yaml"], "unknown command 'chek'")

    def test_unknown_option(self):
        self.assertUsageError(["check", "--rules", "r.yaml", "--bogus"], "--bogus")

    def test_missing_required_option(self):
        self.assertUsageError(["check"], "--rules")
        self.assertUsageError(["replay", "--rules", "r.yaml"], "--input")
        self.assertUsageError(["serve"], "--config")

    def test_option_without_value(self):
        self.assertUsageError(["check", "--rules"], "--rules")

    def test_invalid_rules_still_exit_1(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "rules.yaml")
            with open(path, "w") as f:
                f.write("rules:\n  - name: r\n    when: x >\n")
            result = run("check", "--rules", path)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertRegex(result.stdout, r"rules\.yaml:3:\d+: ")


class FileTest(unittest.TestCase):

    def test_a_directory_is_not_a_file(self):
        # A directory opens like an empty file on Linux; it must not read as one.
        with tempfile.TemporaryDirectory() as directory:
            rules = os.path.join(directory, "rules.yaml")
            with open(rules, "w") as f:
                f.write("rules:\n  - name: r\n    when: x > 1\n")
            for args in (["check", "--rules", directory],
                         ["check", "--rules", rules, "--devices", directory],
                         ["replay", "--rules", rules, "--input", directory],
                         ["serve", "--config", directory]):
                result = run(*args)
                self.assertEqual(result.returncode, 1, (args, result.stderr))
                self.assertIn("Is a directory", result.stdout + result.stderr, args)


def main():
    global PRECALL
    ap = argparse.ArgumentParser()
    ap.add_argument("--precall", required=True)
    args, rest = ap.parse_known_args()
    PRECALL = os.path.abspath(args.precall)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
