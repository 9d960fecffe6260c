"""Run ``__main__.py`` in-process under Pulumi mocks, the way the Pulumi CLI runs it, and record what it registers.

The tests, the benchmark and the operator CLI's ``demo`` use it to see exactly what a stack would deploy
without the Pulumi CLI or an AWS account.
"""

from __future__ import annotations

import json
import os
import runpy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc, settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "governance"


@dataclass(frozen=True)
class RegisteredOptions:
    """The resource options the engine receives with a registration (the mocks' inputs omit them)."""

    retain_on_delete: bool = False
    delete_before_replace: bool = False
    aliases: tuple[str, ...] = ()
    """Logical names (or URNs) of the aliases the resource declares; ``parent=<urn>`` for a former parent."""
    secret_inputs: frozenset[str] = frozenset()
    """Top-level inputs that hold a secret anywhere inside them."""
    dependencies: tuple[str, ...] = ()
    """URNs of the resources this one waits for (``depends_on`` and the outputs its inputs use)."""


@dataclass
class Registered:
    """One resource the program registered."""

    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    custom: bool
    state: dict[str, Any]
    options: RegisteredOptions = field(default_factory=RegisteredOptions)


MOCK_ORGANIZATION_ID = "o-mock0example"
"""What the mocks answer for the organization's id (``aws.organizations.get_organization``)."""
GET_ORGANIZATION = "aws:organizations/getOrganization:getOrganization"


@dataclass(frozen=True)
class Invoked:
    """One invoke the program made: its token, arguments and the provider it went through."""

    token: str
    args: dict[str, Any]
    provider: str


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that synthesise the outputs the program reads (name, arn) and record every registration and invoke."""

    resources: list[Registered] = field(default_factory=list)
    invokes: list[Invoked] = field(default_factory=list)
    organization_accounts: tuple[str, ...] = ()
    """Member account ids the mocked organization has (in ``get_organization``'s answer)."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Record the registration and return its inputs plus a synthesised name and ARN."""
        state = dict(args.inputs)
        name = state.get("name") or args.name
        state.setdefault("name", name)
        service = args.typ.split(":")[1].split("/")[0] if ":" in args.typ else "mock"
        state.setdefault("arn", f"arn:aws:{service}:mock:000000000000:{args.name}")
        self.resources.append(
            Registered(
                type=args.typ,
                name=args.name,
                inputs=dict(args.inputs),
                provider=args.provider or "",
                custom=bool(args.custom),
                state=state,
            )
        )
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Record the invoke; answer the organization's id for ``get_organization`` and nothing for any other."""
        self.invokes.append(Invoked(args.token, dict(args.args), args.provider or ""))
        if args.token == GET_ORGANIZATION:
            accounts = [{"id": account, "state": "ACTIVE", "status": "ACTIVE"} for account in self.organization_accounts]
            # With return_organization_only the data source documents arn, not id, among what it returns.
            return {
                "arn": f"arn:aws:organizations::000000000000:organization/{MOCK_ORGANIZATION_ID}",
                "accounts": accounts,
                "nonMasterAccounts": accounts,
            }, []
        # An empty list of failures: the mock monitor iterates over it (None would fail).
        return {}, []


def _holds_secret(value: Any) -> bool:
    # A secret travels as {sig: secret_sig, value: ...}, at any depth of the registration's inputs.
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return True
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_secret(item) for item in value)
    return False


class RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, also keeping the options of each registration (retain, replace, aliases, secrets)."""

    def __init__(self, recording: RecordingMocks) -> None:
        super().__init__(recording)
        self.options: dict[tuple[str, str], RegisteredOptions] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        """Record the request's options, then register as the mock monitor does."""
        raw = json_format.MessageToDict(request.object) if request.object else {}
        aliases = tuple(alias.urn or alias.spec.name or f"parent={alias.spec.parentUrn}" for alias in request.aliases)
        options = RegisteredOptions(
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            aliases=aliases,
            secret_inputs=frozenset(key for key, value in raw.items() if _holds_secret(value)),
            dependencies=tuple(request.dependencies),
        )
        with self._lock:
            self.options[(request.type, request.name)] = options
        return super().RegisterResource(request)


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    resources: list[Registered]
    outputs: dict[str, Any]
    invokes: list[Invoked] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[Registered]:
        """Registered resources of one type, e.g. ``aws:cfg/rule:Rule``."""
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, logical_name: str) -> Registered:
        """The one resource with this logical name."""
        matches = [resource for resource in self.resources if resource.name == logical_name]
        assert len(matches) == 1, f"expected one resource named {logical_name}, found {len(matches)}"
        return matches[0]

    def with_prefix(self, prefix: str) -> list[Registered]:
        """Resources whose logical name starts with ``prefix`` (an account-region's children)."""
        return [resource for resource in self.resources if resource.name.startswith(prefix)]


def stack_config(stack: str) -> dict[str, Any]:
    """The ``config:`` block of ``Pulumi.<stack>.yaml`` as the CLI would pass it (``governance:*`` keys)."""
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {key: value for key, value in document["config"].items() if key.startswith(f"{PROJECT}:")}


def to_cli_values(config: Mapping[str, Any]) -> dict[str, str]:
    """Encode config values as the CLI does: strings as they are, everything else as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def run_program(
    config: Mapping[str, Any], stack: str = "dev", organization_accounts: tuple[str, ...] = (), mocks: RecordingMocks | None = None
) -> ProgramRun:
    """Run ``__main__.py`` under mocks with ``config`` (``governance:*`` keys) and return what it did.

    ``organization_accounts`` are the member accounts of the mocked organization; ``mocks`` replaces
    the recording mocks (a subclass that answers more, or counts), and then ``organization_accounts`` is unused.
    """
    recording = mocks if mocks is not None else RecordingMocks(organization_accounts=organization_accounts)
    monitor = RecordingMonitor(recording)
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(recording, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(to_cli_values(config))
    previous = Path.cwd()
    os.chdir(PROJECT_ROOT)
    try:

        @pulumi.runtime.test
        def program() -> None:
            runpy.run_path(str(PROJECT_ROOT), run_name="__main__")

        program()
        root = settings.get_root_resource()
        outputs = _resolved_outputs(root)
    finally:
        os.chdir(previous)
    for resource in recording.resources:
        resource.options = monitor.options.get((resource.type, resource.name), RegisteredOptions())
    return ProgramRun(resources=recording.resources, outputs=outputs, invokes=recording.invokes)


def _resolved_outputs(root: Any) -> dict[str, Any]:
    # The mock monitor receives the stack's outputs as the last registration of the root resource.
    if root is None:
        return {}
    result: dict[str, Any] = {}

    @pulumi.runtime.test
    def collect() -> Any:
        outputs = getattr(root, "outputs", {}) or {}
        return pulumi.Output.from_input(outputs).apply(result.update)

    collect()
    return result
