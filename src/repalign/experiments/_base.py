"""What every table-producing experiment shares: the result container and its JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TableResult", "write_result"]


@dataclass(frozen=True)
class TableResult:
    """Rows of a results table, the settings that produced them, and the wall time."""

    rows: list = field(repr=False)
    settings: dict
    seconds: float

    def to_dict(self) -> dict:
        return {"settings": self.settings, "seconds": self.seconds, "rows": self.rows}

    def markdown(self) -> str:  # pragma: no cover - every experiment defines its table
        raise NotImplementedError


def write_result(result: TableResult, out, force: bool) -> None:
    """Write ``result.to_dict()`` as JSON to ``out`` atomically (nothing if ``out`` is None)."""
    if not out:
        return
    from ..io import atomic_write

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, force=force) as tmp:
        tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
