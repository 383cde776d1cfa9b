"""The installed distribution's version: written once, in pyproject.toml.

Read from the package metadata on first use (``importlib.metadata`` costs ~40 ms to import, which
the command line's start does not pay unless ``--version`` is asked for).
"""

from __future__ import annotations

import functools

__all__ = ["version"]  # and __version__, read on first use (module __getattr__)


@functools.cache
def version() -> str:
    """The version of the installed ``repalign`` distribution (``"0+unknown"`` from a bare source tree).

    Returns
    -------
    str
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _dist_version

    try:
        return _dist_version("repalign")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
