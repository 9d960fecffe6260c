"""Fixer: S3 account-level Block Public Access."""

IAM_ACTIONS = ("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock")
