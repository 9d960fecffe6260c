"""The operator CLI: ``python -m governance <command> --stack <name>``."""
