"""Core shared by the Pulumi program and the operator CLI: rule catalog, stack settings, deployment plan.

Everything here is plain Python except ``mock_program``, which runs the program under Pulumi mocks.
"""
