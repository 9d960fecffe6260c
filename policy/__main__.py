"""Entry point the Pulumi CLI runs for ``--policy-pack policy``: serves the pack's policies over gRPC.

The CLI starts ``python -m pulumi.policy <engine> .`` in this directory, which runs this file with the
directory on ``sys.path``. Constructing ``PolicyPack`` starts the analyzer server and blocks, so the
policies live in ``validators.py`` (importable by tests as ``policy.validators``) and this file only
wires them up. The pack needs nothing outside this folder: ``pulumi policy publish`` uploads only it.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyPack
from validators import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Guardrails for the governance program: least-privilege remediation roles, no lost events, "
    "no automatic remediation of rules a stack protects, and organization mode's stack sets, member templates "
    "and hub bus confined to the organization.",
)
