"""Figures of the measures' own results (one set of builders: :mod:`repalign.plotting` re-exports
them); here, below the plotting module, so that results of this layer can draw themselves."""

from __future__ import annotations

import numpy as np

from .._figures import new_figure
from .registry import MEASURES

__all__ = ["shuffle_curves"]


def shuffle_curves(curves: dict, *, title: str | None = None, fig=None):
    """One panel per measure: mean ± std against the fraction of shuffled rows.

    Parameters
    ----------
    curves : dict
        Label (e.g. ``"minilm vs use"``) -> :class:`~repalign.ShuffleCurve`; one line each.
    title : str, optional
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure; default a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not curves:
        raise ValueError("curves: nothing to plot")
    names = list(next(iter(curves.values())).mean)
    cols = min(3, len(names))  # 3 panels a row: legible at 1,100 px (the report's width)
    rows = -(-len(names) // cols)
    fig = new_figure((3.6 * cols, 2.9 * rows), fig)
    axes = fig.subplots(rows, cols, squeeze=False)
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
    return fig
