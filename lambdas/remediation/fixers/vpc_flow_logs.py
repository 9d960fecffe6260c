"""Fixer: VPC flow logs."""

IAM_ACTIONS = ("ec2:CreateFlowLogs", "ec2:DescribeFlowLogs", "ec2:DescribeVpcs", "iam:PassRole")
