"""Matplotlib figures (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write, check_extension
from ..measures.registry import MEASURES

__all__ = ["plot_shuffle_curves", "plot_scatter", "save_figure", "PLOT_FORMATS", "plot_spectrum", "plot_gallery",
           "plot_mode_map", "caption_lists", "plot_layer_heatmap", "plot_layer_diagonal"]

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


def plot_spectrum(result, path, force: bool = False, title: str | None = None, max_points: int = 200) -> Path:
    """SPEC's eigenvalues, both signs: the ``max_points`` largest in magnitude as a stem plot,
    reported modes marked (positive: A separates, negative: B separates). PNG, PDF or SVG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    lam = np.asarray(result.eigenvalues)
    keep = np.sort(np.argsort(-np.abs(lam))[:max_points])
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.vlines(keep, 0, lam[keep], color=np.where(lam[keep] > 0, "tab:blue", "tab:red"), lw=1.2)
    modes = {round(m.eigenvalue, 14) for m in result.modes}
    marked = [i for i in keep if round(lam[i], 14) in modes]
    ax.scatter(marked, lam[marked], s=18, color="k", zorder=3, label="reported modes")
    ax.set_xlabel("eigenvalue rank (descending)")
    ax.set_ylabel("eigenvalue of (K_A − η K_B)/n")
    ax.set_title(title or f"SPEC spectrum: SPEC-diff {result.spec_diff:.4f} ({result.kernel} kernel, n = {result.n})",
                 fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, force=force)


def plot_gallery(result, images, path, *, side: str = "A", per_mode: int = 8, n_modes: int = 5, size: int = 48,
                 force: bool = False) -> Path:
    """Image grid of SPEC's modes of one side: a row per mode, its top items left to right.

    ``images``: a sequence of n image paths / arrays in the same order as the rows SPEC saw."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from ..encoders.images import load_rgb  # pillow: only for galleries

    modes = [m for m in result.modes if m.side == side][:n_modes]
    if not modes:
        raise ValueError(f"side: the result has no modes of side {side!r}")
    cols = min(per_mode, max(len(m.top_indices) for m in modes))
    fig, axes = plt.subplots(len(modes), cols, figsize=(1.1 * cols + 1.2, 1.15 * len(modes) + 0.4), squeeze=False)
    for r, m in enumerate(modes):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(m.top_indices):
                ax.imshow(np.asarray(load_rgb(images[int(m.top_indices[c])]).resize((size, size))))
                ax.set_title(str(int(m.top_indices[c])), fontsize=6)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(f"λ = {m.eigenvalue:.3f}", fontsize=7)
    fig.suptitle(f"SPEC modes that {side} separates and {'B' if side == 'A' else 'A'} does not", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, force=force, dpi=120)


def plot_mode_map(result, A, B, path, *, method: str = "auto", n_modes: int = 3, max_points: int = 3000,
                  seed: int = 0, force: bool = False) -> Path:
    """A 2-D map of each embedding (t-SNE; UMAP when installed and ``method="auto"``) with the
    top items of the first modes of both sides coloured: a group coloured tightly in A's panel
    and spread in B's is a mode A separates. At most ``max_points`` items (all mode items kept)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from ..spec.modes import mode_labels  # plotting only

    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    n = len(A)
    groups = []
    for side in ("A", "B"):
        items, labels = mode_labels(result, side, n_modes)
        groups += [(side, j, items[labels == j]) for j in range(labels.max() + 1 if labels.size else 0)]
    special = np.unique(np.concatenate([g[2] for g in groups])) if groups else np.zeros(0, int)
    rng = np.random.default_rng(seed)
    rest = np.setdiff1d(np.arange(n), special)
    take = rest if len(rest) + len(special) <= max_points else rng.choice(rest, max_points - len(special), replace=False)
    rows = np.sort(np.concatenate([special, take])).astype(int)
    pos = {int(r): i for i, r in enumerate(rows)}

    def embed2d(X):
        Xs = X[rows] / np.maximum(np.linalg.norm(X[rows], axis=1, keepdims=True), 1e-12)
        if method in ("auto", "umap"):
            try:
                import umap  # optional: a faster, more global map

                return umap.UMAP(random_state=seed).fit_transform(Xs), "UMAP"
            except ImportError:
                if method == "umap":
                    raise ValueError("method: 'umap' needs the package umap-learn (pip install umap-learn)") from None
        from sklearn.manifold import TSNE  # scikit-learn's t-SNE, seeded

        perplexity = float(min(30, max(5, (len(rows) - 1) / 3)))
        return TSNE(2, random_state=seed, init="pca", perplexity=perplexity).fit_transform(Xs), "t-SNE"

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    colors = plt.get_cmap("tab10")
    for ax, X, name in zip(axes, (A, B), ("A", "B"), strict=True):
        Y2, how = embed2d(X)
        ax.scatter(Y2[:, 0], Y2[:, 1], s=3, color="0.8")
        for k, (side, j, items) in enumerate(groups):
            idx = [pos[int(i)] for i in items]
            ax.scatter(Y2[idx, 0], Y2[idx, 1], s=9, color=colors(k % 10), marker="o" if side == "A" else "^",
                       label=f"{side}-mode {j + 1}")
        ax.set_title(f"{how} of embedding {name}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(fontsize=7, loc="best", markerscale=1.5, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path, force=force, dpi=110)


def caption_lists(result, texts, *, per_mode: int = 10) -> str:
    """Markdown: for every mode, its eigenvalue and its top items' texts (rows in SPEC's order)."""
    lines = []
    for k, m in enumerate(result.modes):
        other = "B" if m.side == "A" else "A"
        lines.append(f"### Mode {k + 1}: λ = {m.eigenvalue:.4f} ({m.side} groups these, {other} does not)")
        lines.append("")
        for i, s in zip(m.top_indices[:per_mode], m.top_scores[:per_mode], strict=False):
            text = str(texts[int(i)]).replace("|", "\\|").strip()
            lines.append(f"- `{int(i)}` ({s:.3f}) {text}")
        lines.append("")
    return "\n".join(lines)


def plot_layer_heatmap(result, path, force: bool = False, title: str | None = None) -> Path:
    """The L_A × L_B CKA map of :func:`repalign.layerwise`: layer names on both axes, a colour bar,
    values written in the cells when the map is small. PNG, PDF or SVG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    M = np.asarray(result.matrix)
    la, lb = list(result.layers_a), list(result.layers_b)
    fig, ax = plt.subplots(figsize=(1.2 + 0.42 * len(lb), 1.0 + 0.38 * len(la)))
    im = ax.imshow(M, vmin=0, vmax=1, cmap="magma", origin="lower", aspect="auto")
    ax.set_xticks(range(len(lb)), [_short(x) for x in lb], rotation=90, fontsize=7)
    ax.set_yticks(range(len(la)), [_short(x) for x in la], fontsize=7)
    ax.set_xlabel(f"{result.model_b} layers", fontsize=8)
    ax.set_ylabel(f"{result.model_a} layers", fontsize=8)
    if M.size <= 400:
        for i in range(M.shape[0]):
            for j in range(M.shape[1]):
                ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=5,
                        color="white" if M[i, j] < 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="linear CKA")
    ax.set_title(title or f"{result.model_a} vs {result.model_b} ({result.estimator}, n = {result.n})", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, force=force, dpi=130)


def _short(name: str) -> str:
    return name.replace("encoder.layer.", "L").replace("_blocks.", "b")


def plot_layer_diagonal(results: dict, path, force: bool = False) -> Path:
    """CKA of layer i with layer i for same-architecture pairs: one line per labelled result."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results: nothing to plot")
    fig, ax = plt.subplots(figsize=(5.4, 3.2))
    for label, r in results.items():
        d = r.diagonal()
        ax.plot(range(len(d)), d, marker="o", ms=3, label=label)
    first = next(iter(results.values()))
    k = min(first.matrix.shape)
    ax.set_xticks(range(k), [_short(x) for x in first.layers_a[:k]], rotation=90, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("CKA of layer i with layer i", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path, force=force)
