"""Pulumi components: the program's building blocks, one per file."""
