"""The package's one set of figure builders.

Every builder draws into the ``ax`` (one panel) or ``fig`` (several panels) it is given, or into
a new :class:`matplotlib.figure.Figure`, and returns the Figure. None of them touches pyplot's
global state or switches the backend, so they are safe in a notebook (``display(fig)``), a
script or a web server; :func:`save_figure` writes one to a file atomically. The command line,
the experiments and the HTML report all draw through these.
"""

from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np
from sklearn.manifold import TSNE

from ._figures import new_axes as _axes
from ._figures import new_figure as _figure
from ._formats import PLOT_OUT as PLOT_FORMATS
from ._optional import optional
from .encoders.images import load_rgb
from .io import atomic_write, check_extension
from .measures.figures import shuffle_curves
from .spectral.modes import mode_labels

__all__ = ["shuffle_curves", "scatter", "spectrum", "gallery", "mode_map", "layer_heatmap", "layer_diagonal",
           "layer_best_match",
           "matrix_heatmap", "confusion_matrices", "save_figure", "figure_png", "caption_lists", "PLOT_FORMATS"]


def _cmap(name: str):
    from matplotlib import colormaps  # optional 'report' extra

    return colormaps[name]


def save_figure(fig, path, force: bool = False, dpi: int = 110) -> Path:
    """Write a figure atomically in the format its extension names.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        ``.png``, ``.pdf`` or ``.svg``; anything else is refused before writing.
    force : bool, default False
        Replace an existing file.
    dpi : int, default 110

    Returns
    -------
    Path
    """
    p = check_extension(path, PLOT_FORMATS, "plot")
    with atomic_write(p, force=force) as tmp:
        fig.savefig(tmp, dpi=dpi, format=p.suffix.lower().lstrip("."))
    return p


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for pages that inline their images).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int, default 100

    Returns
    -------
    bytes
    """
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def scatter(points, *, x: str, y: str, group: str | None = None, title: str | None = None, ax=None):
    """Scatter of ``points`` with one colour per ``group`` value; Pearson's r in the title.

    Parameters
    ----------
    points : sequence of dict
        Each with keys ``x`` and ``y`` (and ``group``).
    x, y : str
        Keys of the axes (also their labels).
    group : str, optional
        Key whose values get one colour each.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if len(points) < 2:
        raise ValueError("points: need at least two points to plot")
    fig, ax = _axes((5.2, 4.0), ax)
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
    return fig


def spectrum(result, *, title: str | None = None, max_points: int = 200, ax=None):
    """SPEC's eigenvalues, both signs, as a stem plot with the reported modes marked.

    Parameters
    ----------
    result : SPECResult
    title : str, optional
    max_points : int, default 200
        The eigenvalues largest in magnitude that are drawn (positive: A separates, negative: B).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    lam = np.asarray(result.eigenvalues)
    keep = np.sort(np.argsort(-np.abs(lam))[:max_points])
    x = keep.astype(float)
    partial = not getattr(result, "complete", True)
    if partial:  # the ends only (spectrum="ends"): a gap where the unknown middle would be
        x = np.where(lam[keep] > 0, x, x + 2)
    fig, ax = _axes((6.4, 3.4), ax)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.vlines(x, 0, lam[keep], color=np.where(lam[keep] > 0, "tab:blue", "tab:red"), lw=1.2)
    modes = {round(m.eigenvalue, 14) for m in result.modes}
    marked = [j for j, i in enumerate(keep) if round(lam[i], 14) in modes]
    ax.scatter(x[marked], lam[keep][marked], s=18, color="k", zorder=3, label="reported modes")
    if partial:
        gap = float(np.count_nonzero(lam[keep] > 0)) + 0.5
        ax.text(gap, 0, "middle not\ncomputed", ha="center", va="center", fontsize=7, color="0.4")
        ax.set_xlabel("eigenvalue rank from each end (spectrum='ends'; spectrum='full' computes the middle)")
    else:
        ax.set_xlabel("eigenvalue rank (descending)")
    ax.set_ylabel("eigenvalue of (K_A − η K_B)/n")
    ax.set_title(title or f"SPEC spectrum: SPEC-diff {result.spec_diff:.4f} ({result.kernel} kernel, n = {result.n})",
                 fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def gallery(result, images, *, side: str = "A", per_mode: int = 8, n_modes: int = 5, size: int = 48, fig=None):
    """Image grid of SPEC's modes of one side: a row per mode, its top items left to right.

    Parameters
    ----------
    result : SPECResult
    images : sequence
        n image paths / arrays in the order of the rows SPEC saw.
    side : {"A", "B"}, default "A"
    per_mode, n_modes : int
        Images per row, rows.
    size : int, default 48
        Thumbnail side in pixels.
    fig : matplotlib.figure.Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    modes = [m for m in result.modes if m.side == side][:n_modes]
    if not modes:
        raise ValueError(f"side: the result has no modes of side {side!r}")
    cols = min(per_mode, max(len(m.top_indices) for m in modes))
    fig = _figure((1.1 * cols + 1.2, 1.15 * len(modes) + 0.4), fig)
    axes = fig.subplots(len(modes), cols, squeeze=False)
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
    return fig


def thumbnail_strip(images, indices, *, size: int = 40, gap: int = 2) -> bytes:
    """PNG bytes of the images at ``indices`` side by side, ``size`` px squares ``gap`` px apart:
    a SPEC mode's top items at a glance (the HTML report's summary shows them).

    Parameters
    ----------
    images : sequence
        Image paths or arrays (anything :func:`repalign.encoders.images.load_rgb` reads).
    indices : sequence of int
    size, gap : int

    Returns
    -------
    bytes
    """
    from PIL import Image  # noqa: PLC0415 - pillow comes with the image encoders

    idx = [int(i) for i in indices]
    if not idx:
        raise ValueError("indices: give at least one image index")
    strip = Image.new("RGB", (len(idx) * (size + gap) - gap, size), "white")
    for k, i in enumerate(idx):
        strip.paste(load_rgb(images[i]).resize((size, size)), (k * (size + gap), 0))
    buf = _io.BytesIO()
    strip.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def mode_map(result, A, B, *, method: str = "auto", n_modes: int = 3, max_points: int = 3000, seed: int = 0,
             fig=None):
    """A 2-D map of each embedding with the top items of the first modes of both sides coloured.

    A group coloured tightly in A's panel and spread in B's is a mode A separates.

    Parameters
    ----------
    result : SPECResult
    A, B : array_like, shape (n, d_A) and (n, d_B)
    method : {"auto", "umap", "tsne"}, default "auto"
        t-SNE (scikit-learn, seeded); UMAP when installed and ``"auto"`` or ``"umap"``.
    n_modes : int, default 3
    max_points : int, default 3000
        At most this many items (every mode item kept).
    seed : int, default 0
    fig : matplotlib.figure.Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
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
                umap = optional("umap")

                return umap.UMAP(random_state=seed).fit_transform(Xs), "UMAP"
            except ImportError:
                if method == "umap":
                    raise ValueError("method: 'umap' needs the package umap-learn (pip install umap-learn)") from None

        perplexity = float(min(30, max(5, (len(rows) - 1) / 3)))
        return TSNE(2, random_state=seed, init="pca", perplexity=perplexity).fit_transform(Xs), "t-SNE"

    fig = _figure((10, 4.6), fig)
    axes = fig.subplots(1, 2)
    colors = _cmap("tab10")
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
    return fig


def caption_lists(result, texts, *, per_mode: int = 10) -> str:
    """Markdown: for every mode, its eigenvalue and its top items' texts (rows in SPEC's order);
    for modes with two strong ends (``SPECMode.two_ended``), both ends."""
    lines = []
    for k, m in enumerate(result.modes):
        other = "B" if m.side == "A" else "A"
        lines.append(f"### Mode {k + 1}: λ = {m.eigenvalue:.4f} ({m.side} groups these, {other} does not)")
        lines.append("")
        if getattr(m, "two_ended", False):
            lines += ["One end of the eigenvector:", ""]
        for i, s in zip(m.top_indices[:per_mode], m.top_scores[:per_mode], strict=False):
            text = str(texts[int(i)]).replace("|", "\\|").strip()
            lines.append(f"- `{int(i)}` ({s:.3f}) {text}")
        if getattr(m, "two_ended", False):
            lines += ["", "The other end (a second group, as strong):", ""]
            for i, s in zip(m.other_indices[:per_mode], m.other_scores[:per_mode], strict=False):
                text = str(texts[int(i)]).replace("|", "\\|").strip()
                lines.append(f"- `{int(i)}` ({s:.3f}) {text}")
        lines.append("")
    return "\n".join(lines)


def layer_heatmap(result, *, title: str | None = None, ax=None):
    """The L_A × L_B CKA map of :func:`repalign.layerwise`: layer names on both axes, a colour bar,
    values written in the cells when the map is small.

    Parameters
    ----------
    result : LayerwiseResult
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    M = np.asarray(result.matrix)
    la, lb = list(result.layers_a), list(result.layers_b)
    fig, ax = _axes((1.2 + 0.42 * len(lb), 1.0 + 0.38 * len(la)), ax)
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
    return fig


def _short(name: str) -> str:
    return name.replace("encoder.layer.", "L").replace("_blocks.", "b")


def layer_best_match(result, *, ax=None):
    """For maps of networks of different depth: for each layer of A, the CKA of the most similar
    layer of B, with that layer's name at each point.

    Parameters
    ----------
    result : LayerwiseResult
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    idx, vals = result.best_match()
    fig, ax = _axes((max(5.4, 0.32 * len(vals) + 1.5), 3.4), ax)
    ax.plot(range(len(vals)), vals, marker="o", ms=3)
    for i, (j, v) in enumerate(zip(idx, vals, strict=True)):
        ax.annotate(_short(result.layers_b[j]), (i, v), textcoords="offset points", xytext=(0, 4), ha="center",
                    fontsize=5, rotation=90)
    ax.set_xticks(range(len(vals)), [_short(x) for x in result.layers_a], rotation=90, fontsize=7)
    ax.set_ylim(0, 1.15)
    ax.set_xlabel(f"{result.model_a} layers", fontsize=8)
    ax.set_ylabel(f"CKA of the best-matching {result.model_b} layer", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def layer_diagonal(results: dict, *, ax=None):
    """CKA of layer i with layer i for same-architecture pairs: one line per labelled result.

    Parameters
    ----------
    results : dict
        Label -> LayerwiseResult.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not results:
        raise ValueError("results: nothing to plot")
    fig, ax = _axes((5.4, 3.2), ax)
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
    return fig


def matrix_heatmap(M, *, title: str | None = None, max_side: int = 400, ax=None):
    """A square or rectangular matrix (an RSM, a Gram matrix) as an image with a colour bar.

    Parameters
    ----------
    M : array_like, shape (n, m)
    title : str, optional
    max_side : int, default 400
        Larger matrices are shown with every k-th row and column (k = ceil(max(n, m) / max_side)).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValueError(f"M: expected a 2-D matrix, got shape {M.shape}")
    step = max(1, int(np.ceil(max(M.shape) / max_side)))
    fig, ax = _axes((4, 4), ax)
    im = ax.imshow(M[::step, ::step], cmap="viridis")
    fig.colorbar(im, ax=ax)
    if title:
        ax.set_title(title, fontsize=8)
    return fig


def confusion_matrices(mats, titles, class_names=None, *, columns: int = 5, fig=None):
    """Row-normalised confusion matrices (true class x predicted class), one panel each.

    Parameters
    ----------
    mats : sequence of array_like, shape (C, C)
        Counts; row i is the true class i.
    titles : sequence of str
        One per matrix.
    class_names : sequence of str, optional
        Tick labels (first five characters).
    columns : int, default 5
        Panels per row.
    fig : matplotlib.figure.Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = len(mats)
    if k == 0:
        raise ValueError("mats: nothing to plot")
    cols = min(columns, k)
    rows = -(-k // cols)
    fig = _figure((2.3 * cols, 2.5 * rows), fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    for ax, M, title in zip(axes.ravel(), mats, titles, strict=False):
        M = np.asarray(M, dtype=float)
        ax.imshow(M / np.maximum(M.sum(axis=1, keepdims=True), 1), vmin=0, vmax=1, cmap="Blues")
        ax.set_title(title, fontsize=6)
        names = [str(c)[:5] for c in (class_names or range(len(M)))]
        ax.set_xticks(range(len(M)), names, rotation=90, fontsize=5)
        ax.set_yticks(range(len(M)), names, fontsize=5)
    fig.suptitle("confusion (rows: true class, columns: predicted; each row sums to 1)", fontsize=8)
    return fig
