"""Fixer: security groups open to the world on admin ports."""

IAM_ACTIONS = ("ec2:DescribeSecurityGroupRules", "ec2:DescribeSecurityGroups", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress")
