"""The top layer: the HTML report of a results folder and the README's result tables.

:mod:`.html` renders every result file by its ``kind``; :mod:`.readme` regenerates the README's
tables from ``docs/results``. Figures come from :mod:`repalign.plotting`.
"""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "html": ["ReportResult", "build_report", "markdown_to_html"],
    },
)
