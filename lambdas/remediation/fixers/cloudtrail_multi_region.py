"""Fixer: a logging multi-region CloudTrail trail."""

IAM_ACTIONS = ("cloudtrail:CreateTrail", "cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:ListTags", "cloudtrail:StartLogging", "cloudtrail:UpdateTrail")
