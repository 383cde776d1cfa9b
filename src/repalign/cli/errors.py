"""The CLI's own errors (no imports: the entry point loads this before any command)."""

__all__ = ["CLIError", "UsageError"]


class CLIError(ValueError):
    """A user-facing error raised by the CLI layer itself (one line, exit 2)."""


class UsageError(Exception):
    """An argparse error, reported as one line."""
