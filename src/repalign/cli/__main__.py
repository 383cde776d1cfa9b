"""``python -m repalign.cli``: the same as the ``repalign`` command."""

import sys

from . import main

sys.exit(main())
