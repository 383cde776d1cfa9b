"""The base of every result type."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["Result"]


class Result:
    """What every result of repalign is: a small frozen dataclass with a ``kind`` and ``to_dict()``.

    ``kind`` names the result type in every JSON file written from it (the HTML report dispatches
    on it alone); files also carry the version of repalign that wrote them
    (``repalign_version``, added by :func:`repalign.io.write_json`).

    Attributes
    ----------
    kind : str
        Class attribute: the result type's name in files (``"similarity"``, ``"qap"``, ...).
    """

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict:  # pragma: no cover - every result type defines it
        """JSON-ready fields, ``kind`` first."""
        raise NotImplementedError
