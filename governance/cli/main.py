"""Argument parsing and dispatch for ``python -m governance``.

Exit codes follow linters: 0 nothing found / all passed, 1 something found / a check failed,
2 bad usage or bad stack config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from governance.cli.doctor import run_doctor
from governance.cli.output import json_lines, table
from governance.cli.sessions import AccountSessions
from governance.settings import ConfigError, Settings
from governance.stack_file import load_stack

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m governance", description="Operate governance stacks: preflight, what-if, fix, undo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    doctor = commands.add_parser("doctor", help="check what the deployment relies on in every account and region")
    doctor.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    doctor.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def doctor_command(settings: Settings, as_json: bool) -> int:
    """Run the preflight checks and print them; 1 when any failed."""
    results = run_doctor(settings, AccountSessions())
    if as_json:
        json_lines([result.to_json() for result in results])
    else:
        table(
            ["", "account", "region", "check", "detail", "fix"],
            [["PASS" if r.passed else "FAIL", r.account, r.region, r.check, r.detail, "" if r.passed else r.fix] for r in results],
        )
    return EXIT_OK if all(result.passed for result in results) else EXIT_FOUND


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_stack(args.stack)
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        return EXIT_USAGE
    if args.command == "doctor":
        return doctor_command(settings, args.json)
    raise AssertionError(f"unhandled command {args.command}")
