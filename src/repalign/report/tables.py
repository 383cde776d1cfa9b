"""Plain-text tables for the terminal and Markdown summaries."""

from __future__ import annotations

__all__ = ["format_similarity_table", "format_number"]


def format_number(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and (abs(x) >= 1e4 or (0 < abs(x) < 1e-3)):
        return f"{x:.3e}"
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def format_similarity_table(report, markdown: bool = False) -> str:
    """A table of a :class:`~repalign.SimilarityReport`: value, interval, p-value, direction."""
    header = ["measure", "value", "CI", "p-value", "more similar"]
    rows = []
    for name, r in report.measures.items():
        ci = "-" if r.ci_low is None else f"[{format_number(r.ci_low)}, {format_number(r.ci_high)}]"
        rows.append([name, format_number(r.value), ci, format_number(r.p_value),
                     "higher" if r.higher_is_more_similar else "lower"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*r) for r in rows]
    return "\n".join(out)
