"""The main job (``repalign demo``): do two encoders organise the same items the same way?

1. The 1,000 ImageNet class descriptions embedded by two packaged text encoders (``minilm``,
   ``use-multilingual``).
2. With the data folder: XTD-10 English captions through the English-only ``minilm`` against the
   same captions in German through ``use-multilingual`` (unaligned encoders, different
   languages), and as a reference the multilingual encoder on both languages (aligned).

For each pair: every measure with a bootstrap interval and a permutation p-value, and the
shuffle curve (measure vs fraction of broken pairs). Writes ``results.json``,
``shuffle_curve.png`` and ``summary.md`` into the output folder; ``repalign demo`` then renders
them as ``report.html`` (the report is the layer above the experiments).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .._log import info as log_info
from .._result import Result
from ..datasets import load_dataset, load_imagenet_classes
from ..encoders import encode_cached, get_encoder
from ..io import atomic_write, check_writable, write_json
from ..measures.stats import DEFAULT_MEASURES, evaluate, shuffle_curve
from ..plotting import save_figure, shuffle_curves

__all__ = ["DemoResult", "run_demo", "DEMO_OUTPUTS"]

DEMO_OUTPUTS = ("results.json", "shuffle_curve.png", "summary.md")  # the CLI adds report.html


@dataclass(frozen=True)
class DemoResult(Result):
    """What ``repalign demo`` computed: per pair of encoders, every measure and a shuffle curve.

    Attributes
    ----------
    pairs : dict
        label -> ``{"similarity": SimilarityReport, "shuffle": ShuffleCurve, "description", "encoders"}``.
    seconds : float
    out_dir : str
    skipped : tuple of str
        Pairs left out, with the reason (e.g. no data folder for XTD-10).
    """

    kind: ClassVar[str] = "demo"

    pairs: dict = field(repr=False)  # label -> {"similarity": SimilarityReport, "shuffle": ShuffleCurve, ...}
    seconds: float
    out_dir: str
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "out_dir": self.out_dir,
            "seconds": self.seconds,
            "skipped": list(self.skipped),
            "pairs": {
                label: {
                    "description": p["description"],
                    "encoders": p["encoders"],
                    "similarity": p["similarity"].to_dict(),
                    "shuffle_curve": p["shuffle"].to_dict(),
                }
                for label, p in self.pairs.items()
            },
        }


def _embed(model: str, items, encoders: dict, use_cache: bool, progress: bool):
    if model not in encoders:
        encoders[model] = get_encoder(model)
    arr, _ = encode_cached(encoders[model], items, progress=progress, use_cache=use_cache)
    return arr


def run_demo(out_dir="results/demo", *, force: bool = False, data_dir=None, n_permutations: int = 100,
             n_bootstrap: int = 50, n_repeats: int = 3, measures=DEFAULT_MEASURES, use_cache: bool = True,
             progress: bool = True, limit: int | None = None, log=log_info) -> DemoResult:
    """Run the demo (see module docstring) and write its outputs into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder for results.json, shuffle_curve.png and summary.md.
    force : bool
        Replace existing outputs.
    data_dir : path, optional
        Data folder (XTD-10 pairs need it; skipped with a note otherwise).
    n_permutations, n_bootstrap : int
        Resamples for p-values and intervals.
    n_repeats : int
        Shuffle-curve repeats per fraction.
    measures : sequence
        Measure names.
    use_cache, progress : bool
    limit : int, optional
        Use only the first ``limit`` items of every set (a quick run).
    log : callable
        Where progress messages go.

    Returns
    -------
    DemoResult
    """
    permutations, bootstrap = n_permutations, n_bootstrap
    out = Path(out_dir)
    for name in DEMO_OUTPUTS:
        check_writable(out / name, force)
    t0 = time.perf_counter()
    encoders: dict = {}
    jobs = []
    skipped = []
    if limit is not None and limit < 20:
        raise ValueError(f"limit: needs at least 20 items for the k-NN measures, got {limit}")
    classes = load_imagenet_classes("description", limit=limit)
    jobs.append(("imagenet-classes: minilm vs use-multilingual",
                 f"{len(classes.items):,} ImageNet class descriptions, two English-capable text encoders",
                 ("minilm", classes.items), ("use-multilingual", classes.items)))
    try:
        en = load_dataset("xtd10:en", data_dir, limit=limit)
        de = load_dataset("xtd10:de", data_dir, limit=limit)
        jobs.append(("xtd10: minilm(en) vs use-multilingual(de)",
                     f"{len(en.items):,} COCO captions: English through an English-only encoder vs German through a "
                     "multilingual one",
                     ("minilm", en.items), ("use-multilingual", de.items)))
        jobs.append(("xtd10: use-multilingual(en) vs use-multilingual(de)",
                     "aligned reference: one multilingual encoder on both languages",
                     ("use-multilingual", en.items), ("use-multilingual", de.items)))
    except ValueError as exc:
        skipped.append(f"xtd10 pairs skipped: {exc}")
        log(f"note: {skipped[-1]}")

    pairs = {}
    for label, desc, (ma, items_a), (mb, items_b) in jobs:
        log(f"{label}: embedding")
        A = _embed(ma, items_a, encoders, use_cache, progress)
        B = _embed(mb, items_b, encoders, use_cache, progress)
        log(f"{label}: {len(measures)} measures, "
            f"{bootstrap} bootstrap / {permutations} permutations each")
        sim = evaluate(A, B, measures, n_permutations=permutations, n_bootstrap=bootstrap, progress=progress)
        log(sim.table())
        log(f"{label}: shuffle curve")
        curve = shuffle_curve(A, B, measures, n_repeats=n_repeats, progress=progress)
        pairs[label] = {"description": desc, "encoders": [ma, mb], "similarity": sim, "shuffle": curve}

    result = DemoResult(pairs, time.perf_counter() - t0, str(out), tuple(skipped))
    out.mkdir(parents=True, exist_ok=True)
    fig = shuffle_curves({k: v["shuffle"] for k, v in pairs.items()}, title="Similarity vs fraction of shuffled pairs")
    save_figure(fig, out / "shuffle_curve.png", force=force)
    write_json(out / "results.json", result.to_dict(), force)
    lines = ["# repalign demo", ""]
    for label, p in pairs.items():
        lines += [f"## {label}", "", p["description"], "", p["similarity"].table(markdown=True), ""]
        mono = [m for m in p["shuffle"].mean
                if p["shuffle"].is_monotone(m, p["similarity"][m].higher_is_more_similar, slack=1e-3)]
        lines += [f"Shuffle curve monotone (within 1e-3) for: {', '.join(mono) or 'none'}.", ""]
    lines += [f"Total time {result.seconds:.1f} s.", *skipped]
    with atomic_write(out / "summary.md", force=force) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {', '.join(str(out / n) for n in DEMO_OUTPUTS)}")
    return result
