"""botocore's Stubber for exactly one EC2 call moto 5.2.5 lacks: GetEbsDefaultKmsKeyId.

moto has no handler for GetEbsDefaultKmsKeyId (nor ResetEbsDefaultKmsKeyId). The fixer of
ebs-default-encryption reads the default key only when ``params.kmsKeyArn`` is set; tests of that
path answer this one operation from a Stubber on the function's cached ec2 client, while every other
call of that client still reaches moto. The Stubber checks the answer against the EC2 service model.
"""

from __future__ import annotations

from botocore.stub import Stubber
from remediation import clients

OPERATION = "GetEbsDefaultKmsKeyId"


class DefaultKeyStubber(Stubber):
    """A Stubber that answers GetEbsDefaultKmsKeyId only (botocore's answers every operation of its client)."""

    def activate(self) -> None:
        """Answer GetEbsDefaultKmsKeyId from the queue; leave the client's other operations alone."""
        events = self.client.meta.events
        events.register_first(f"before-parameter-build.ec2.{OPERATION}", self._assert_expected_params, unique_id=self._expected_params_event_id)
        events.register(f"before-call.ec2.{OPERATION}", self._get_response_handler, unique_id=self._event_id)

    def deactivate(self) -> None:
        """Stop answering."""
        events = self.client.meta.events
        events.unregister(f"before-parameter-build.ec2.{OPERATION}", self._assert_expected_params, unique_id=self._expected_params_event_id)
        events.unregister(f"before-call.ec2.{OPERATION}", self._get_response_handler, unique_id=self._event_id)


def stub_default_key(*key_ids: str) -> DefaultKeyStubber:
    """Answer the function's next GetEbsDefaultKmsKeyId calls with ``key_ids``, in order (as real AWS would)."""
    stubber = DefaultKeyStubber(clients.client("ec2"))
    for key_id in key_ids:
        stubber.add_response("get_ebs_default_kms_key_id", {"KmsKeyId": key_id}, {})
    stubber.activate()
    return stubber
