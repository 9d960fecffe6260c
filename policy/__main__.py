"""Entry point the Pulumi CLI runs for ``--policy-pack policy``: serves the pack's policies over gRPC.

The CLI starts ``python -m pulumi.policy <engine> .`` in this directory, which runs this file. Constructing
``PolicyPack`` starts the analyzer server and blocks, so the policies live in ``policy/validators.py``
(importable by tests) and this file only wires them up.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The CLI runs this file with the pack directory on sys.path; the repository root makes ``policy.validators``
# importable the same way the tests import it.
_REPOSITORY_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPOSITORY_ROOT not in sys.path:
    sys.path.insert(0, _REPOSITORY_ROOT)

from policy.validators import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Guardrails for the governance program: least-privilege remediation roles, no lost events, "
    "and no automatic remediation of rules a stack protects.",
)
