"""The governance policy pack (Pulumi CrossGuard): guardrails checked by ``pulumi preview --policy-pack policy``."""
