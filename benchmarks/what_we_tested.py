"""Regenerate the "What we tested" section of docs/testing.md from a run of the whole test suite.

Runs ``pytest`` over the repository's testpaths (every test, as CI does) with ``GOVERNANCE_FIGURES``
pointing at a temporary file the tests write their measured figures and observations to, then
rewrites the block between the ``what-we-tested`` markers in docs/testing.md. The section states the run
(command, counts, duration) and, for each figure, the test file that measured it. Sizes can be
raised for a bigger run (the page then shows those figures); the defaults are what CI runs.

    .venv/bin/python benchmarks/what_we_tested.py                       # CI sizes, whole suite, rewrites docs/testing.md
    .venv/bin/python benchmarks/what_we_tested.py --fuzz-events 50000 --load-events 5000 --no-write
    .venv/bin/python benchmarks/what_we_tested.py --no-write tests/safety/test_faults.py   # a subset, printed only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "testing.md"
START, END = "<!-- what-we-tested:start -->", "<!-- what-we-tested:end -->"
MEASURED_BY = {
    "sg": "tests/safety/test_security_group_properties.py",
    "never_weakens": "tests/safety/test_never_weakens.py",
    "fuzz": "tests/safety/test_handler_fuzz.py",
    "config_fuzz": "tests/safety/test_config_fuzz.py",
    "faults": "tests/safety/test_faults.py",
    "load": "tests/safety/test_load.py",
    "apply_load": "tests/cli/test_apply_load.py",
    "races": "tests/cli/test_races.py",
    "limits": "tests/test_worst_case_limits.py",
    "replay": "tests/test_replay.py",
}
"""The test file that measures each row's figures (``pytest <file>`` reruns it alone)."""
REPLANNED = "groups re-planned by a duplicate between the other's two writes"
FIXERS = [
    "s3-bucket-encryption",
    "s3-bucket-public-access",
    "s3-account-public-access",
    "restricted-admin-ports",
    "vpc-flow-logs",
    "cloudtrail-multi-region",
    "cloudtrail-log-validation",
    "s3-bucket-versioning",
    "s3-ssl-only",
    "sqs-queue-public",
    "sns-topic-public",
    "ebs-snapshot-public",
    "ebs-default-encryption",
    "kms-key-rotation",
    "default-security-group-closed",
    "ec2-imdsv2",
    "log-group-retention",
    "rds-public-access",
    "ecr-scan-on-push",
    "lambda-public-access",
    "rds-snapshot-public",
    "ssm-document-public",
    "iam-password-policy",
    "iam-unused-credentials",
    "guardduty-enabled",
]
FAULTS = ["throttling", "5xx", "AccessDenied on read", "AccessDenied on tag read", "AccessDenied on write", "deleted before write", "stale read once", "stale read always"]
SIZES = {
    "sg_plan_examples": "security groups planned (pure)",
    "sg_moto_examples": "security groups fixed through moto",
    "never_weakens_plan_examples": "S3/CloudTrail states planned (pure)",
    "never_weakens_moto_examples": "S3/CloudTrail resources fixed through moto",
    "fuzz_events": "mutated events",
    "config_fuzz_configs": "mutated stack configs",
    "load_events": "load events",
    "load_workers": "load threads",
}


def pytest_command(paths: list[str]) -> list[str]:
    """The pytest run: the repository's testpaths (the whole suite) unless paths are given."""
    return [sys.executable, "-m", "pytest", *paths, "-p", "no:randomly"]


def run_tests(figures: Path, sizes: dict[str, int], paths: list[str]) -> tuple[int, str, float, list[str]]:
    """Run the tests; return pytest's exit code, its summary line, the seconds taken and its FAILED/ERROR lines."""
    environment = {**os.environ, "GOVERNANCE_FIGURES": str(figures), "PYTHONDONTWRITEBYTECODE": "1"}
    environment.update({f"GOVERNANCE_{name.upper()}": str(value) for name, value in sizes.items()})
    started = time.perf_counter()
    result = subprocess.run(pytest_command(paths), cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    summary = next((line for line in reversed(result.stdout.splitlines()) if " passed" in line or " failed" in line), "no summary")
    failures = [line for line in result.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return result.returncode, re.sub(r"\x1b\[[0-9;]*m", "", summary).strip("= "), time.perf_counter() - started, failures


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def decisions(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {number(count)}" for name, count in sorted(counts.items(), key=lambda item: -item[1]))


def fault_core(observation: dict[str, Any] | None) -> str:
    """What a fault ended in, as observed: the records in order and the resource's state read afterwards."""
    if observation is None:
        return "not run"
    if "not_applicable" in observation:
        return f"n/a: {observation['not_applicable']}"
    return f"{observation['records']} → {observation['after']}"


def fault_cell(observation: dict[str, Any] | None, common: str) -> str:
    """A table cell: ✓ when the outcome is the row's common one, then the measured details and writes sent."""
    core = fault_core(observation)
    if observation is None or "not_applicable" in observation:
        return core
    details = [*observation.get("notes", []), f"{observation['writes']} writes"]
    return f"{'✓' if core == common else core} ({', '.join(details)})"


def fault_rows(observations: dict[str, Any]) -> list[str]:
    """The fault table: one column per fault, its most common outcome first, then one row per fixer, every cell observed."""
    columns = []
    for fault in FAULTS:
        cells = [observations.get(f"{fixer}|{fault}") for fixer in FIXERS]
        cores = [fault_core(cell) for cell in cells if cell is None or "not_applicable" not in cell]
        columns.append((fault, cells, max(set(cores), key=cores.count) if cores else "not applicable"))
    lines = [
        "| fixer | " + " | ".join(fault for fault, _, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
        "| **most common outcome** | " + " | ".join(common for _, _, common in columns) + " |",
    ]
    for index, fixer in enumerate(FIXERS):
        lines.append(f"| `{fixer}` | " + " | ".join(fault_cell(cells[index], common) for _, cells, common in columns) + " |")
    return lines


def render(data: dict[str, Any], summary: str, seconds: float, command: str, paths: list[str]) -> str:
    sg, sg_moto, weak = data.get("sg_plan", {}), data.get("sg_moto", {}), data.get("never_weakens", {})
    fuzz, fuzz_open, config = data.get("fuzz", {}), data.get("fuzz_non_compliant", {}), data.get("config_fuzz", {})
    load, apply_load = data.get("load", {}), data.get("apply_load", {})
    races, limits, replay = data.get("races", {}), data.get("limits", {}), data.get("replay", {})
    observations: dict[str, Any] = data.get("fault_observations", {})
    measured = [value for value in observations.values() if "not_applicable" not in value]
    writes = sum(value["writes"] for value in measured)
    recorded = all(value.get("all_calls_recorded") for value in measured) and bool(measured)
    injected = Counter(key.split("|", 1)[0] for key, value in observations.items() if "not_applicable" not in value)
    lines = [
        f"Generated by `{command}`, which ran `{' '.join(['pytest', *paths])}`"
        f" ({'these test files only' if paths else 'the whole suite, the testpaths of pyproject.toml'}): **{summary}**,",
        f"{seconds:.0f} s wall clock. Every figure below was measured by that run; the last column names the test file that",
        "measured it (`.venv/bin/python -m pytest <file>` reruns it alone, with the same figures: the generators are seeded).",
        "",
        "| area | what | figures | measured by |",
        "|---|---|---|---|",
        f"| Property: security groups | random groups (derandomized: the same groups on every run) mixing IPv4/IPv6, ports and ranges, tcp/udp/icmp/icmpv6/-1/other protocols, prefix lists and group references; a group changes exactly when the world reaches an admin port; the reachable (source, protocol, port) sets after the fix are exactly the ones before minus world access to the admin ports (other protocols of a -1 rule only narrowed, and then recorded); undo restores the group; a second plan is empty | {number(sg.get('groups'))} groups planned ({number(sg.get('rules'))} rules, {number(sg.get('groups changed'))} changed, {number(sg.get('groups narrowed'))} narrowed); {number(sg_moto.get('groups'))} run end to end through moto ({number(sg_moto.get('remediated'))} remediated, {number(sg_moto.get('writes'))} writes, each then redelivered: already compliant) | `{MEASURED_BY['sg']}` |",
        f"| Property: S3 and CloudTrail never weaken | KMS stays KMS with its key, a public-access flag that is on stays on, a logging trail keeps logging, a multi-region trail stays multi-region, validation only turns on | plans: {number(weak.get('encryption states (plan)'))} encryption, {number(weak.get('public access states (plan)'))} public-access, {number(weak.get('trail sets (plan)'))} trail sets, {number(weak.get('trails (plan)'))} trails; through moto: {number(weak.get('buckets (moto)'))} buckets, {number(weak.get('public access blocks (moto)'))} public-access blocks, {number(weak.get('trail sets (moto)'))} trail sets | `{MEASURED_BY['never_weakens']}` |",
        f"| Bad input: events over compliant resources | real-shaped events with wrong types, missing and extra fields, oversize strings, unicode, injection-looking and lookalike ids, other accounts and regions, unmanaged rules, non-objects; every resource named is compliant | {number(fuzz.get('events'))} events: {number(fuzz.get('unexpected exceptions'))} unexpected exceptions, {number(fuzz.get('writes'))} AWS writes; {decisions(fuzz.get('decisions', {}))} | `{MEASURED_BY['fuzz']}` |",
        f"| Bad input: events over non-compliant resources | the same mutations over resources that all need a fix, so an event that slips through validation would write; each write must come from an event that follows the compliance-change contract (checked by the test, independently of the handler), and is undone afterwards | {number(fuzz_open.get('events'))} events: {number(fuzz_open.get('unexpected exceptions'))} unexpected exceptions; {number(fuzz_open.get('events following the contract'))} follow the contract, {number(fuzz_open.get('events that wrote'))} wrote ({number(fuzz_open.get('writes'))} writes), **0 writes for an event outside the contract**; {decisions(fuzz_open.get('decisions', {}))} | `{MEASURED_BY['fuzz']}` |",
        f"| Bad input: stack config | mutated copies of `Pulumi.dev.yaml`: every problem is one sentence naming its key; rejected configs run through the program register nothing | {number(config.get('configs'))} configs, {number(config.get('rejected'))} rejected with {number(config.get('problems reported'))} problems; {number(config.get('rejected configs run through the program'))} run through the program, 0 resources registered | `{MEASURED_BY['config_fuzz']}` |",
        f"| Faults | per fixer: {', '.join(FAULTS)}; every call sent to AWS (intercepted in botocore) appears with its params and region in an audit record, exactly one final record per event; the resource is read back afterwards | {sum(injected.values())} faults injected ({', '.join(f'{key} {value}' for key, value in sorted(injected.items()))}), {len(observations) - len(measured)} shown not to apply; {writes} writes sent, {'all' if recorded else 'NOT all'} recorded with their params | `{MEASURED_BY['faults']}` |",
        f"| Load | {number(load.get('events'))} events through the handler on {number(load.get('threads'))} threads against the embedded emulator, with duplicates and resources deleted mid-burst | {number(load.get('resources'))} resources, {number(load.get('duplicate events'))} duplicate events, {number(load.get('resources deleted mid-burst'))} deleted mid-burst; every event one final record ({decisions(load.get('decisions', {}))}; every failure is an event for a deleted resource, none was re-created); {number(load.get('resources remediated by more than one concurrent duplicate'))} resources remediated by two concurrent duplicates, whose writes were compared: only the fix's own requests; {number(load.get(REPLANNED))} security groups re-planned by a duplicate that read between the other's two writes (final rules checked exactly); {number(load.get('successful writes'))} writes, {number(load.get('emulator requests'))} requests served, {number(load.get('transient retries'))} transient retries, {number(load.get('seconds'))} s | `{MEASURED_BY['load']}` |",
        f"| Load: `apply` | {number(apply_load.get('resources'))} resources in {number(apply_load.get('accounts'))} accounts x {number(apply_load.get('regions'))} regions, 10% of emulator requests answered with the service's throttling error | {number(apply_load.get('records'))} records, all remediated ({number(apply_load.get('failed'))} failed); {number(apply_load.get('writes'))} writes, one per resource; {number(apply_load.get('requests'))} requests, {number(apply_load.get('throttled'))} throttled and retried; every group's (protocol, from, to, source) rules compared with the expected result | `{MEASURED_BY['apply_load']}` |",
        f"| Races: `apply` and `undo` | between every pair of steps (read, confirm, write, verify, record) a resource is changed, tagged exempt, or its credentials expire or are denied, over the S3 encryption, bucket public access and security group rules; asserted: no write from stale state, no lost record, no change to an exempt resource | {number(races.get('apply cases'))} `apply` cases ({number(races.get('apply writes'))} writes, each planned from a read after the event or recorded), {number(races.get('undo cases'))} `undo` cases | `{MEASURED_BY['races']}` |",
        f"| Limits: worst-case configs | the longest prefix, largest params, every rule on both engines, all regions, many accounts with overrides; each config is rejected with one sentence per problem naming its key, or everything the program registers fits every limit of `governance/limits.py` | {number(limits.get('worst cases accepted'))} accepted ({number(limits.get('resources checked'))} registered resources checked), {number(limits.get('worst cases rejected'))} rejected with {number(limits.get('problems named'))} problems, each naming its key | `{MEASURED_BY['limits']}` |",
        f"| Replay in the emulator | every resource the program declares for `Pulumi.dev.yaml`, `Pulumi.prod.yaml` and the accepted worst cases, created in moto as the provider would, each request also checked against botocore's service model; moto's validators refuse unknown managed rules, malformed policies, invalid event patterns | {number(replay.get('stacks replayed'))} stacks, {number(replay.get('resources replayed'))} resources, {number(replay.get('requests checked'))} requests; {number(replay.get('known-bad values refused'))} known-bad values, each refused (the replay can fail) | `{MEASURED_BY['replay']}` |",
        "",
        f"Fault outcomes as observed by `{MEASURED_BY['faults']}` (records in order → the resource read afterwards; ✓: the column's",
        "most common outcome, in its first row; in brackets what was counted: tries of the faulted call, reads of the resource, writes sent):",
        "",
        *fault_rows(observations),
        "",
        "Throttling and 5xx are injected on the plan's last write, so the two-write fixes are caught half done: the",
        "non-final record lists the write that succeeded, and the retry finishes the fix. In the load test, moto's missing",
        "`ClientToken` idempotency for `CreateFlowLogs` is emulated as AWS documents it.",
        "",
        "```bash",
        ".venv/bin/python benchmarks/what_we_tested.py     # reruns the whole suite and rewrites this section",
        "```",
    ]
    return "\n".join(lines)


def with_section(text: str, section: str) -> str:
    """``text`` with the block between the markers replaced by ``section``."""
    start, end = text.index(START) + len(START), text.index(END)
    return text[:start] + "\n" + section + "\n" + text[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, help_text in SIZES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"number of {help_text} (default: the CI size)")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of rewriting docs/testing.md")
    parser.add_argument("paths", nargs="*", help="test files to run instead of the whole suite (implies --no-write)")
    args = parser.parse_args()
    sizes = {name: getattr(args, name) for name in SIZES if getattr(args, name) is not None}
    with tempfile.TemporaryDirectory() as directory:
        figures = Path(directory) / "figures.json"
        code, summary, seconds, failures = run_tests(figures, sizes, args.paths)
        data = json.loads(figures.read_text()) if figures.exists() else {}
    print(f"{summary} ({seconds:.0f} s)")
    if code != 0:
        for line in failures:
            print(line, file=sys.stderr)
        print(f"the tests failed; {PAGE.relative_to(ROOT)} was not changed", file=sys.stderr)
        return code
    command = " ".join([".venv/bin/python benchmarks/what_we_tested.py", *sys.argv[1:]])
    section = render(data, summary, seconds, command, args.paths)
    if args.no_write or args.paths:
        print(section)
        return 0
    PAGE.write_text(with_section(PAGE.read_text(), section))
    print(f"rewrote the {START} block of {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
