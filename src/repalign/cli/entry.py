"""Entry point: parse, run the command's module, and turn every error into one line.

The promises (module docstring of :mod:`repalign.cli`) are kept here: exit 2 and one line for
bad input, an unreadable or unwritable file, a full disk or too little memory; exit 1 and one
line for a bug; ``--debug`` shows the traceback; warnings are one line each.
"""

from __future__ import annotations

import errno
import importlib
import re
import signal
import sys
import warnings

from .. import _log, _progress
from .errors import UsageError
from .parser import build_parser

__all__ = ["main", "friendly", "pair_names"]

# internal argument names -> what the user typed (whole words only; see _friendly)
_OPTION_NAMES = {
    "n_repeats": "--repeats", "n_permutations": "--permutations",
    "n_bootstrap": "--bootstrap", "base_size": "--base-size", "query_size": "--query-size",
    "time_limit": "--time-limit", "restarts": "--restarts", "batch_size": "--batch-size", "limit": "--limit",
    "level": "--level", "fractions": "--fractions", "seeds": "--seeds", "n_jobs": "--jobs", "per_class": "--per-class",
    "layers_a": "--layers-a", "layers_b": "--layers-b", "n_modes": "--modes", "sigma_a": "--sigma-a", "sigma_b": "--sigma-b", "matcher": "--matcher", "layout": "--layout",
}
_ARRAY_NAMES = ("Zb", "Hb", "Zq", "Hq", "X", "Y", "Z", "H")


def friendly(msg: str, files: dict[str, str], dests=()) -> str:
    """Rewrite internal names in an API error for the command line: argument names become
    options (``n_permutations`` -> ``--permutations``) and, in the subject of the message (before
    its first colon), array names become the user's files (``Zb`` -> ``a.npy (base rows)``)."""
    head, sep, tail = msg.partition(": ")
    if not sep:
        head, tail = "", msg

    def arrays(text):
        return re.sub(r"\b(" + "|".join(_ARRAY_NAMES) + r")\b", lambda m: files.get(m.group(1), m.group(1)), text)

    def options(text):
        # an option already spelled with dashes stays as it is ("--matcher", not "----matcher")
        return re.sub(r"(?<![\w-])(" + "|".join(_OPTION_NAMES) + r")\b", lambda m: _OPTION_NAMES[m.group(1)], text)

    def spellings(text):
        # Python keyword spellings (estimator='minibatch') become the command's options
        def opt(m):
            name, value = m.group(1), m.group(2).strip("'\"")
            flag = _OPTION_NAMES.get(name) or (f"--{name.replace('_', '-')}" if name in dests else None)
            return f"{flag} {value}" if flag else m.group(0)

        return re.sub(r"(?<![\w-])([a-z_]+)=('[^']*'|\"[^\"]*\"|[\w.+-]+)", opt, text)

    head = options(arrays(head))
    return (head + sep if sep else "") + options(spellings(tail))


def pair_names(a, b) -> dict[str, str]:
    return {"X": str(a), "Z": str(a), "Zb": f"{a} (base rows)", "Zq": f"{a} (query rows)",
            "Y": str(b), "H": str(b), "Hb": f"{b} (base rows)", "Hq": f"{b} (query rows)"}


_SEEN_WARNINGS: set = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    if text not in _SEEN_WARNINGS:
        _SEEN_WARNINGS.add(text)
        print(f"repalign: warning: {text}", file=sys.stderr)


def _os_message(exc: OSError) -> str:
    where = exc.filename or ""
    if exc.errno == errno.ENOSPC:
        return f"{where + ': ' if where else ''}no space left on the device; free some space or write elsewhere"
    if exc.errno == errno.EDQUOT:
        return f"{where + ': ' if where else ''}disk quota exceeded; free some space or write elsewhere"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {reason}" if where else reason


def _files_of(args) -> dict[str, str]:
    a, b = getattr(args, "a", None), getattr(args, "b", None)
    return pair_names(a, b) if a and b else {}


def main(argv=None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    old_handler = signal.getsignal(signal.SIGTERM)
    old_show = warnings.showwarning
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally-blocks remove temp files
    except ValueError:  # not the main thread (e.g. inside a test runner's worker)
        old_handler = None
    warnings.showwarning = _show_warning
    _SEEN_WARNINGS.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            try:
                args = build_parser().parse_args(argv)
            except UsageError as exc:
                print(f"repalign: error: {exc}", file=sys.stderr)
                return 2
            if args.quiet and args.verbose:
                print("repalign: error: --quiet and --verbose: choose one", file=sys.stderr)
                return 2
            _progress.set_mode("off" if args.quiet else "auto", announce=not args.quiet)
            old_level = _log.logger.level
            _log.set_level("quiet" if args.quiet else "verbose" if args.verbose else "normal")
            try:
                return _run(args, debug or args.debug)
            finally:
                _log.logger.setLevel(old_level)
    finally:
        warnings.showwarning = old_show
        _progress.set_mode("auto", announce=False)
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)


def _quiet(_unraisable) -> None:
    """After a MemoryError, objects freed at shutdown fail again; say nothing more."""


def _run(args, debug: bool) -> int:
    try:
        command = importlib.import_module(f"{__package__}.{args.func}")
        return int(command.run(args) or 0)
    except KeyboardInterrupt:
        print("repalign: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, MemoryError) as exc:
        if debug:
            raise
        if isinstance(exc, MemoryError):
            sys.unraisablehook = _quiet  # objects freed at exit would each print a traceback: one line only
            fewer = "fewer items (--limit)" if hasattr(args, "limit") else "smaller inputs or settings"
            msg = f"out of memory: this is too large for this machine's memory; use {fewer} or a larger machine"
        elif isinstance(exc, OSError) and not isinstance(exc, ValueError):
            msg = _os_message(exc)
        else:
            text = str(exc).strip()
            msg = friendly(text.splitlines()[0], _files_of(args), vars(args)) if text else type(exc).__name__
        print(f"repalign: error: {msg}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback by default
        if debug:
            raise
        print(f"repalign: internal error (a bug; please report it): {type(exc).__name__}: {exc} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
