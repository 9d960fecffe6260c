"""Turn the program's registrations (under Pulumi mocks) into what the policy engine hands a policy pack.

Resource policies get a resource's inputs, stack policies every resource's outputs; both camelCase.
``preview`` reproduces the engine's unknown-value proxy, and ``analyze``/``analyze_stack`` go through
pulumi-policy's own analyzer servicer (the code the gRPC server runs), without the CLI.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy

from governance.mock_program import ProgramRun, Registered
from policy.validators import PACK_NAME, POLICIES

PROJECT = "governance"
OPTIONS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)


@dataclass(frozen=True)
class Violation:
    """One reported violation: the policy, the message and the resource it names (if any)."""

    policy: str
    message: str
    urn: str | None


def urn_of(resource: Registered, stack: str = "dev") -> str:
    """A URN for a registered resource (flat: the harness does not record parents)."""
    return f"urn:pulumi:{stack}::{PROJECT}::{resource.type}::{resource.name}"


def provider_urn(resource: Registered) -> str:
    """The URN part of the harness's provider reference (``<urn>::<id>``)."""
    return resource.provider.rsplit("::", 1)[0] if resource.provider else ""


def preview(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """``props`` wrapped the way the engine wraps them: reading an unknown value raises."""
    return unknown_checking_proxy(copy.deepcopy(dict(props)))


def provider_inputs(run: ProgramRun) -> dict[str, Mapping[str, Any]]:
    """The inputs of each explicit provider of a run, by the provider's logical name (what the engine sends as its properties)."""
    return {provider.name: provider.inputs for provider in run.of_type("pulumi:providers:aws")}


def provider_of(resource: Registered, props: Mapping[str, Any] | None = None) -> PolicyProviderResource | None:
    """The provider a policy receives with ``resource``, with ``props`` as its properties (inputs)."""
    if not resource.provider:
        return None
    urn = provider_urn(resource)
    return PolicyProviderResource("pulumi:providers:aws", preview(props or {}), urn, urn.rsplit("::", 1)[-1])


def resource_args(
    resource: Registered,
    props: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    provider: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    """What a resource policy receives for ``resource`` (its inputs, or ``props`` instead), with its provider's ``provider`` inputs."""
    return ResourceValidationArgs(
        resource_type=resource.type,
        props=preview(resource.inputs if props is None else props),
        urn=urn_of(resource),
        name=resource.name,
        opts=OPTIONS,
        provider=provider_of(resource, provider) if provider is not None else None,
        config=config,
    )


def policy_resource(resource: Registered, props: Mapping[str, Any] | None = None, provider: Mapping[str, Any] | None = None) -> PolicyResource:
    """What a stack policy receives for ``resource`` (its outputs, or ``props`` instead), with its provider's ``provider`` inputs."""
    return PolicyResource(
        resource_type=resource.type,
        props=preview(resource.state if props is None else props),
        urn=urn_of(resource),
        name=resource.name,
        opts=OPTIONS,
        provider=provider_of(resource, provider),
        parent=None,
        dependencies=[],
        property_dependencies={},
    )


def custom_resources(run: ProgramRun) -> list[Registered]:
    """The cloud resources of a run (components are not sent to policies as such)."""
    return [resource for resource in run.resources if resource.custom]


def check_resource(validator: Callable[..., Any], args: ResourceValidationArgs) -> list[str]:
    """Messages a resource validator reports."""
    messages: list[str] = []
    validator(args, lambda message, urn=None: messages.append(message))
    return messages


def check_stack(
    validator: Callable[..., Any],
    resources: Iterable[PolicyResource],
    config: Mapping[str, Any] | None = None,
) -> list[tuple[str, str | None]]:
    """``(message, urn)`` pairs a stack validator reports."""
    reported: list[tuple[str, str | None]] = []
    validator(StackValidationArgs(list(resources), config), lambda message, urn=None: reported.append((message, urn)))
    return reported


def evaluate_pack(run: ProgramRun, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[Violation]:
    """Every violation the pack's policies report on a run; ``overrides`` replaces props by logical name."""
    overrides = overrides or {}
    violations: list[Violation] = []
    resources = custom_resources(run)
    providers = provider_inputs(run)

    def provider(resource: Registered) -> Mapping[str, Any]:
        return providers.get(provider_urn(resource).rsplit("::", 1)[-1], {})

    for policy in POLICIES:
        def report(message: str, urn: str | None = None, policy: Policy = policy) -> None:
            violations.append(Violation(policy.name, message, urn))

        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                policy.validate(resource_args(resource, overrides.get(resource.name), provider=provider(resource)), report)
        elif isinstance(policy, StackValidationPolicy):
            stack = [policy_resource(resource, overrides.get(resource.name), provider(resource)) for resource in resources]
            policy.validate(StackValidationArgs(stack), report)
    return violations


# --- through pulumi-policy's analyzer servicer (what the gRPC server runs) ---------------------------


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(props, default=str)))
    return struct


def servicer(config: Mapping[str, Mapping[str, Any]] | None = None) -> _PolicyAnalyzerServicer:
    """The pack's analyzer as the CLI talks to it, optionally configured with policy config."""
    analyzer = _PolicyAnalyzerServicer(PACK_NAME, "0.0.1", POLICIES, EnforcementLevel.MANDATORY)
    if config:
        request = proto.ConfigureAnalyzerRequest()
        for name, properties in config.items():
            request.policyConfig[name].properties.update(dict(properties))
        analyzer.Configure(request, None)
    return analyzer


def _messages(response: Any) -> list[Violation]:
    return [Violation(d.policyName, d.message, d.urn or None) for d in response.diagnostics]


def _provider_message(resource: Registered, inputs: Mapping[str, Any] | None) -> proto.AnalyzerProviderResource:
    urn = provider_urn(resource)
    return proto.AnalyzerProviderResource(type="pulumi:providers:aws", urn=urn, name=urn.rsplit("::", 1)[-1], properties=_struct(inputs or {}))


def analyze(resource: Registered, props: Mapping[str, Any] | None = None, provider: Mapping[str, Any] | None = None) -> list[Violation]:
    """Run every resource policy on one resource through the servicer (inputs, or ``props``), with its provider's inputs."""
    request = proto.AnalyzeRequest(
        type=resource.type,
        urn=urn_of(resource),
        name=resource.name,
        properties=_struct(resource.inputs if props is None else props),
    )
    if resource.provider:
        request.provider.CopyFrom(_provider_message(resource, provider))
    return _messages(servicer().Analyze(request, None))


def analyze_stack(
    resources: Iterable[tuple[Registered, Mapping[str, Any]]],
    config: Mapping[str, Mapping[str, Any]] | None = None,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """Run every stack policy through the servicer on ``(resource, outputs)`` pairs; ``providers`` as ``provider_inputs``."""
    request = proto.AnalyzeStackRequest()
    for resource, props in resources:
        entry = request.resources.add()
        entry.type = resource.type
        entry.urn = urn_of(resource)
        entry.name = resource.name
        entry.properties.CopyFrom(_struct(props))
        if resource.provider:
            entry.provider.CopyFrom(_provider_message(resource, (providers or {}).get(provider_urn(resource).rsplit("::", 1)[-1])))
    return _messages(servicer(config).AnalyzeStack(request, None))
