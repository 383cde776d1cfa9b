"""Figures without pyplot: the two helpers every plot builder starts from (matplotlib, the
optional 'report' extra, is imported only when a figure is made)."""

from __future__ import annotations

__all__ = ["new_figure", "new_axes"]


def new_figure(figsize, fig=None):
    """A new Figure (no pyplot, no backend switch) unless one is given."""
    if fig is not None:
        return fig
    from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only when a figure is made

    return Figure(figsize=figsize)


def new_axes(figsize, ax=None):
    """``(fig, ax)``: the given axes and their figure, or one new panel."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()
