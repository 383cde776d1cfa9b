"""Command-line interface: one subcommand per verb, a thin layer over the Python API.

The promises, each tested:

* every error is one line on stderr, ``repalign: error: ...``, and exit code 2 (bad input,
  a file that cannot be read or written, a full disk, too little memory); 1 is reserved for
  a bug and says so; ``--debug`` (before or after the subcommand) shows the traceback;
* messages name the user's files and options, not internal variable names;
* warnings are one line each (``repalign: warning: ...``);
* an existing output is never replaced without ``--force``, and every output path and
  extension is checked before any work starts;
* long steps show a progress bar on stderr when it is a terminal and one line per step
  otherwise (``--quiet`` silences both);
* SIGTERM ends the run like Ctrl-C: temporary files are removed.
"""

import os

# Before anything can import torch: its OpenMP threads would otherwise spin after every op
# and slow numpy's BLAS several-fold on small machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from .entry import main  # noqa: E402
from .errors import CLIError  # noqa: E402
from .parser import build_parser  # noqa: E402

__all__ = ["main", "build_parser", "CLIError"]
