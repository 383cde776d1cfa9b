"""Plots and readable summaries of results."""

from .plots import plot_shuffle_curves
from .tables import format_similarity_table

__all__ = ["plot_shuffle_curves", "format_similarity_table"]
