"""Lambda resource-policy behaviour the fixers rely on and moto 5.2.5 lacks, patched into moto for the Lambda tests.

- RemovePermission with a RevisionId: moto reads the query value as a list and so refuses every
  RevisionId with PreconditionFailedException; AWS compares the value itself.
- Every RemovePermission gives the policy a new RevisionId on AWS; moto keeps the old one.
- AddPermission with FunctionUrlAuthType writes the condition ``StringEquals lambda:FunctionUrlAuthType``
  on AWS; moto keeps ``FunctionUrlAuthType`` as a key of the statement itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.awslambda.policy import Policy
from moto.awslambda.responses import LambdaResponse
from moto.moto_api._internal import mock_random


def model_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch moto's Lambda policies with the behaviour above (undone by ``monkeypatch``)."""
    original_remove = LambdaResponse.remove_permission
    original_delete = Policy.del_statement
    original_decode = Policy.decode_policy

    def remove_permission(self: LambdaResponse) -> Any:
        revision = self.querystring.get("RevisionId")
        if isinstance(revision, list):
            self.querystring["RevisionId"] = revision[0] if revision else ""
        return original_remove(self)

    def del_statement(self: Policy, sid: str, revision: str = "") -> None:
        original_delete(self, sid, revision)
        self.revision = str(mock_random.uuid4())

    def decode_policy(self: Policy, obj: dict[str, Any]) -> Policy:
        policy = original_decode(self, obj)
        for statement in policy.statements:
            auth_type = statement.pop("FunctionUrlAuthType", None)
            if auth_type is not None:
                statement.setdefault("Condition", {}).setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth_type
        return policy

    monkeypatch.setattr(LambdaResponse, "remove_permission", remove_permission)
    monkeypatch.setattr(Policy, "del_statement", del_statement)
    monkeypatch.setattr(Policy, "decode_policy", decode_policy)
