"""Compatibility alias: the harness lives in ``governance.mock_program``."""

from governance.mock_program import ProgramRun, RecordingMocks, Registered, run_program, stack_config

__all__ = ["ProgramRun", "RecordingMocks", "Registered", "run_program", "stack_config"]
