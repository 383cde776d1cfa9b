"""What every table-producing experiment shares: the result container and its JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write

__all__ = ["TableResult", "write_result"]


@dataclass(frozen=True)
class TableResult:
    """Rows of a results table, the settings that produced them, and the wall time.

    Attributes
    ----------
    rows : list of dict
    settings : dict
    seconds : float
    """

    rows: list = field(repr=False)
    settings: dict
    seconds: float

    def to_dict(self) -> dict:
        """``settings``, ``seconds`` and ``rows`` (what the JSON file holds)."""
        return {"kind": "experiment", "settings": self.settings, "seconds": self.seconds, "rows": self.rows}

    @classmethod
    def from_dict(cls, d: dict):
        """Rebuild from :meth:`to_dict`'s output (a JSON result file); derived keys are recomputed."""
        try:
            return cls(list(d["rows"]), dict(d["settings"]), float(d["seconds"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a {cls.__name__} file (missing or bad field: {exc})") from None

    def markdown(self) -> str:  # pragma: no cover - every experiment defines its table
        """The results table in Markdown."""
        raise NotImplementedError

    def readme_markdown(self) -> str:
        """What the README shows (default: :meth:`markdown`)."""
        return self.markdown()


def write_result(result: TableResult, out, force: bool) -> None:
    """Write ``result.to_dict()`` as JSON to ``out`` atomically (nothing if ``out`` is None)."""
    if not out:
        return
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, force=force) as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
