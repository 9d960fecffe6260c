"""Fixer: S3 bucket default encryption."""

IAM_ACTIONS = ("s3:GetEncryptionConfiguration", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration")
