"""Matplotlib figures (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write, check_extension
from ..measures.registry import MEASURES

__all__ = ["plot_shuffle_curves", "plot_scatter", "save_figure", "PLOT_FORMATS"]

PLOT_FORMATS = (".png", ".pdf", ".svg")


def save_figure(fig, path, force: bool = False, dpi: int = 110) -> Path:
    """Write a matplotlib figure atomically in the format its extension names (PNG, PDF or SVG;
    anything else is refused before writing) and close it."""
    import matplotlib.pyplot as plt

    p = check_extension(path, PLOT_FORMATS, "plot")
    try:
        with atomic_write(p, force=force) as tmp:
            fig.savefig(tmp, dpi=dpi, format=p.suffix.lower().lstrip("."))
    finally:
        plt.close(fig)
    return p


def plot_shuffle_curves(curves: dict, path, force: bool = False, title: str | None = None) -> Path:
    """One panel per measure: mean ± std against the fraction of shuffled rows.

    ``curves`` maps a label (e.g. ``"minilm vs use"``) to a :class:`~repalign.ShuffleCurve`.
    Written atomically as PNG; an existing file is kept unless ``force``.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("curves: nothing to plot")
    names = list(next(iter(curves.values())).mean)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        for label, curve in curves.items():
            x = np.asarray(curve.fractions)
            m, s = np.asarray(curve.mean[name]), np.asarray(curve.std[name])
            ax.plot(x, m, marker="o", ms=3, label=label)
            ax.fill_between(x, m - s, m + s, alpha=0.2)
        better = "higher" if MEASURES.get(name) is None or MEASURES[name].higher_is_more_similar else "lower"
        ax.set_title(f"{name} ({better} = more similar)", fontsize=9)
        ax.set_xlabel("fraction of pairs shuffled", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) > 3), 1, 1))
    return save_figure(fig, path, force=force)


def plot_scatter(points, path, *, x: str, y: str, group: str | None = None, title: str | None = None,
                 force: bool = False) -> Path:
    """Scatter of ``points`` (dicts) with ``x``/``y`` keys, one colour per ``group`` value;
    the Pearson correlation in the title. Written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if len(points) < 2:
        raise ValueError("points: need at least two points to plot")
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    groups = sorted({p[group] for p in points}) if group else [None]
    for g in groups:
        sel = [p for p in points if group is None or p[group] == g]
        ax.scatter([p[x] for p in sel], [p[y] for p in sel], s=18, alpha=0.8, label=g)
    xs, ys = np.array([p[x] for p in points]), np.array([p[y] for p in points])
    r = np.corrcoef(xs, ys)[0, 1] if xs.std() > 0 and ys.std() > 0 else float("nan")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{title + ': ' if title else ''}Pearson r = {r:.2f} (n = {len(points)})", fontsize=9)
    ax.grid(alpha=0.3)
    if group:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, force=force, dpi=120)
