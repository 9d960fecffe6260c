"""Fixer: CloudTrail log file validation."""

IAM_ACTIONS = ("cloudtrail:GetTrail", "cloudtrail:ListTags", "cloudtrail:UpdateTrail")
