"""Fixer: S3 bucket-level Block Public Access."""

IAM_ACTIONS = ("s3:GetBucketPublicAccessBlock", "s3:GetBucketTagging", "s3:PutBucketPublicAccessBlock")
