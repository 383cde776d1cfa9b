"""What every table-producing experiment shares: the result container, its JSON and CSV files,
and resumable units."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .._log import info as log_info
from .._optional import optional
from .._result import Result
from ..distributed import client_for
from ..io import atomic_write, write_json

__all__ = ["TableResult", "write_result", "flatten_row", "Units"]


@dataclass(frozen=True)
class TableResult(Result):
    """Rows of a results table, the settings that produced them, and the wall time.

    Attributes
    ----------
    rows : list of dict
    settings : dict
    seconds : float
    experiment : str
        The experiment's name in :data:`repalign.experiments.EXPERIMENTS` (how the report finds
        the result type of a file).
    """

    kind: ClassVar[str] = "experiment"

    rows: list = field(repr=False)
    settings: dict
    seconds: float
    experiment: str = ""

    def to_dict(self) -> dict:
        """``settings``, ``seconds`` and ``rows`` (what the JSON file holds)."""
        return {"kind": self.kind, "experiment": self.experiment, "settings": self.settings, "seconds": self.seconds,
                "rows": self.rows}

    @classmethod
    def from_dict(cls, d: dict):
        """Rebuild from :meth:`to_dict`'s output (a JSON result file); derived keys are recomputed."""
        try:
            return cls(list(d["rows"]), dict(d["settings"]), float(d["seconds"]), str(d.get("experiment", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a {cls.__name__} file (missing or bad field: {exc})") from None

    def to_pandas(self):
        """The rows as a DataFrame with the columns of the CSV beside the JSON file (nested
        fields as dotted column names, lists kept as lists); needs pandas.

        Returns
        -------
        pandas.DataFrame
            One row per row of the table.
        """
        pd = optional("pandas")
        flat = [flatten_row(r, lists_as_json=False) for r in self.rows]
        return pd.DataFrame(flat, columns=list(dict.fromkeys(k for r in flat for k in r)))

    def markdown(self) -> str:  # pragma: no cover - every experiment defines its table
        """The results table in Markdown."""
        raise NotImplementedError

    def readme_markdown(self) -> str:
        """What the README shows (default: :meth:`markdown`)."""
        return self.markdown()


def flatten_row(row: dict, prefix: str = "", lists_as_json: bool = True) -> dict:
    """One flat ``{column: value}`` dict from a nested result row: nested dicts become dotted
    column names (``methods.greedy.relative``), lists become JSON text (or stay lists)."""
    out = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_row(v, key + ".", lists_as_json))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v) if lists_as_json else list(v)
        else:
            out[key] = v
    return out


def write_result(result: TableResult, out, force: bool) -> None:
    """Write ``result.to_dict()`` as JSON to ``out`` and its rows as CSV beside it (``.csv``),
    both atomically (nothing if ``out`` is None).

    The CSV has one line per row of the table, nested fields flattened by :func:`flatten_row`;
    the JSON (settings, seconds, rows) is the file the README and the report read.
    """
    if not out:
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    d = result.to_dict()
    flat = [flatten_row(r) for r in d["rows"]]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(flat)
    write_json(out, d, force)
    with atomic_write(out.with_suffix(".csv"), force=True) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


class Units:
    """Resumable experiments: each finished unit (an encoder pair, a seed, an instance) is
    checkpointed atomically as ``<out>.parts/<unit>.json`` with a SHA-256 of its value; a rerun
    with the same settings skips what is done and says so, ``force`` recomputes everything, and a
    damaged checkpoint is recomputed, never trusted. Without ``out`` nothing is stored.

    Units run in order here, or as Dask tasks when a ``scheduler`` is given (each is stored as
    it finishes, so an interrupted cluster run resumes too).
    """

    def __init__(self, out, settings: dict, *, force: bool = False, log=log_info):
        self.log = log
        self.folder = None if not out else Path(out).with_name(Path(out).stem + ".parts")
        self.key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
        if self.folder is None:
            return
        stamp = self.folder / "settings.sha256"
        if self.folder.exists() and (force or not stamp.exists() or stamp.read_text().strip() != self.key):
            self._clear_own_units(stamp)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not stamp.exists():
            with atomic_write(stamp, force=True) as tmp:
                tmp.write_text(self.key + "\n")

    def _clear_own_units(self, stamp: Path) -> None:
        """Remove the unit files this class wrote (and its stamp), nothing else: a folder of the
        same name may hold the user's files, which stay."""
        for p in self.folder.glob("*.json"):
            try:
                d = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not ours (or unreadable): left alone
            if isinstance(d, dict) and set(d) == {"sha256", "value"}:
                p.unlink()
        if stamp.exists():
            stamp.unlink()

    def _path(self, name: str) -> Path:
        return self.folder / (re.sub(r"[^\w.=-]+", "_", name) + ".json")

    @staticmethod
    def _digest(value) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()

    def get(self, name: str):
        """The stored value of a unit, or None (absent or damaged: then recomputed)."""
        if self.folder is None:
            return None
        p = self._path(name)
        if not p.exists():
            return None
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            if d["sha256"] == self._digest(d["value"]):
                return d["value"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.log(f"checkpoint of {name} is damaged; recomputing it")
        return None

    def put(self, name: str, value) -> None:
        """Store a finished unit (JSON-able value) atomically."""
        if self.folder is None:
            return
        with atomic_write(self._path(name), force=True) as tmp:
            tmp.write_text(json.dumps({"sha256": self._digest(value), "value": value}) + "\n", encoding="utf-8")

    def run(self, names, fn, *, scheduler=None, shared=None) -> list:
        """``[fn(name) for name in names]`` with checkpoints (class docstring); ``fn`` must be
        picklable when a scheduler is given. With ``shared`` (data every unit reads, such as
        embeddings), ``fn(shared, name)`` is called instead, and on a cluster ``shared`` is
        scattered to the workers once rather than shipped with every task."""
        names = list(names)
        lead = () if shared is None else (shared,)  # fn's arguments before the unit's name
        out = {n: self.get(n) for n in names}
        done = [n for n in names if out[n] is not None]
        if done:
            self.log(f"resuming: {len(done)} of {len(names)} units already done ({self.folder}), skipping them")
        todo = [n for n in names if out[n] is None]
        client = None
        with contextlib.ExitStack() as stack:
            if scheduler is not None and todo:
                client = stack.enter_context(client_for(scheduler))
            if client is None:
                for n in todo:
                    out[n] = fn(*lead, n)
                    self.put(n, out[n])
            else:
                from distributed import as_completed  # optional dependency

                if lead:
                    lead = (client.scatter([shared], broadcast=True)[0],)  # one object, not per key
                futures = {client.submit(fn, *lead, n, pure=False): n for n in todo}
                for fut in as_completed(futures):
                    n = futures[fut]
                    out[n] = fut.result()
                    self.put(n, out[n])
        return [out[n] for n in names]
