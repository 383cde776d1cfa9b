"""One self-contained HTML page for a folder of results: ``repalign report RESULTS_DIR -o report.html``.

Every file the package writes has a renderer, found by the JSON's ``kind`` field alone (a file
without one was written by an older version and is listed as skipped):

=====================  ===================================================================
similarity             ``repalign similarity --out``: measures with intervals and p-values
shuffle-curve          ``repalign shuffle-curve --out``: the curve, drawn
matching               ``repalign match --out``: accuracy and retrieval per method
demo                   ``repalign demo``'s ``results.json``: every pair's measures
experiment             ``repalign experiment run NAME``: its table (by the file's ``experiment``), and
                       confusion matrices where its rows carry them (classification,
                       unsupervised)
unsupervised           ``unsupervised_classifier(...).to_dict()``: accuracy, confusion matrix
spec                   ``repalign spec --out``: spectrum, modes, galleries beside it
layerwise              ``repalign layers --out``: the CKA heatmap
rsm                    ``repalign rsm --out``'s sidecar: the RSM as an image
qap                    a ``repalign qap --json`` answer: objective, bound, gap
figures, notes         every remaining ``.png``/``.svg`` image and ``.md`` note
=====================  ===================================================================

Images are embedded (base64 data URIs): the page has no external assets. A file that cannot be
read or has no renderer is listed under "Skipped" with the reason; the rest still renders.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np

from .._result import Result
from .._version import __version__
from ..experiments.registry import EXPERIMENTS, PAPERS
from ..io import atomic_write, check_extension, check_writable
from ..plotting import (
    figure_png,
    matrix_heatmap,
    shuffle_curves,
    spectrum,
)

__all__ = ["build_report", "ReportResult", "markdown_to_html"]


@dataclass(frozen=True)
class ReportResult(Result):
    """What :func:`build_report` wrote.

    Attributes
    ----------
    path : str
        The HTML file.
    sections : list of str
        Titles of the rendered sections.
    skipped : list of (str, str)
        Files not rendered, with the reason.
    images : int
        Embedded images.
    """

    kind: ClassVar[str] = "report"

    path: str
    sections: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    images: int = 0

    def to_dict(self) -> dict:
        """Path, sections, skipped files with reasons, number of images."""
        return {"kind": self.kind, "path": self.path, "sections": self.sections, "skipped": [list(s) for s in self.skipped],
                "images": self.images}


# ------------------------------------------------------------------------------ small helpers


def _esc(x) -> str:
    return html.escape(str(x))


def _num(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return f"{x:,}"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _esc(x)
    if not np.isfinite(v):
        return "–"
    return f"{v:.3e}" if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3) else f"{v:.{digits}g}"


#: significant digits of a similarity measure's value and interval, in tables and the summary alike
MEASURE_DIGITS = 3

#: tables with more rows than this are collapsed (a click opens them)
LONG_TABLE_ROWS = 30


def _table(header, rows, caption: str, collapse: bool = True) -> str:
    """A table in its own horizontal scroller: on a narrow screen a wide table scrolls inside its
    wrapper, never the page. ``caption`` (plain text) says what the table holds and for which
    pair. Tables of more than :data:`LONG_TABLE_ROWS` rows start collapsed (unless ``collapse``
    is False: the summary is always open)."""
    head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    table = (f'<div class="scroll"><table data-sortable><caption>{_esc(caption)}</caption><thead><tr>{head}</tr>'
             f'</thead><tbody>{body}</tbody></table></div>')
    if collapse and len(rows) > LONG_TABLE_ROWS:
        return f'<details class="long"><summary>{len(rows)} rows (click to show)</summary>{table}</details>'
    return table


#: Sorting by a header click, inline (the page makes no request): numbers by value (the first number
#: in a cell: "0.716 ± 0.01", "1,234", "3.2e-05"), other cells as text; a second click reverses.
_SORT_JS = """document.querySelectorAll('table[data-sortable]').forEach(t=>{t.querySelectorAll('thead th').forEach((h,i)=>{
h.tabIndex=0;h.style.cursor='pointer';const go=()=>{const b=t.tBodies[0],rows=Array.from(b.rows),
up=h.getAttribute('aria-sort')!=='ascending',num=c=>{const m=c.replace(/,/g,'').match(/-?\\d+(\\.\\d+)?(e[-+]?\\d+)?/i);
return m?parseFloat(m[0]):NaN},key=r=>(r.cells[i]||{}).textContent||'';rows.sort((a,b2)=>{const x=num(key(a)),
y=num(key(b2));const c=(!isNaN(x)&&!isNaN(y))?x-y:key(a).localeCompare(key(b2));return up?c:-c});
t.querySelectorAll('thead th').forEach(o=>o.removeAttribute('aria-sort'));h.setAttribute('aria-sort',up?'ascending':'descending');
rows.forEach(r=>b.appendChild(r))};h.addEventListener('click',go);h.addEventListener('keydown',e=>{if(e.key==='Enter')go()})})});
document.querySelectorAll('main img').forEach(i=>i.addEventListener('click',()=>i.classList.toggle('zoomed')));
document.addEventListener('keydown',e=>{if(e.key==='Escape')document.querySelectorAll('img.zoomed').forEach(i=>i.classList.remove('zoomed'))});
window.addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>d.open=true));"""



def _img_bytes(data: bytes, mime: str, alt: str) -> str:
    return f'<img alt="{_esc(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'


#: what a figure file shows, by the names repalign gives them (alt text; else "figure NAME")
_FIGURE_ALT = [(re.compile(r"(^|_)(gallery_)?A$"), "top images of each SPEC mode that A groups and B does not"),
               (re.compile(r"(^|_)(gallery_)?B$"), "top images of each SPEC mode that B groups and A does not"),
               (re.compile(r"spectrum$"), "SPEC spectrum: the eigenvalues of the kernel difference"),
               (re.compile(r"^map$"), "2-D map of the items coloured by the SPEC mode they belong to"),
               (re.compile(r"shuffle|curve"), "each similarity measure against the fraction of shuffled pairs"),
               (re.compile(r"cka-vs-qap"), "CKA of each encoder pair against its QAP matching accuracy"),
               (re.compile(r"_vs_|layers"), "layer-wise CKA map of two models"),
               (re.compile(r"diagonal"), "CKA of layer i of A with layer i of B")]


def _alt_for(path: Path) -> str:
    for rx, text in _FIGURE_ALT:
        if rx.search(path.stem):
            return f"{text} ({path.name})"
    return f"figure {path.name}"


def _img_file(path: Path) -> str:
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}[
        path.suffix.lower()]
    return _img_bytes(path.read_bytes(), mime, _alt_for(path))


def _png(fig) -> bytes:
    return figure_png(fig, dpi=110)


def _view(d: dict, **nested):
    """A read-only view of a result dict with attribute access, for the figure builders."""
    return SimpleNamespace(**{**d, **nested})


_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"), (re.compile(r"`([^`]+)`"), r"<code>\1</code>")]


def _inline(text: str) -> str:
    out = _esc(text)
    for rx, rep in _INLINE:
        out = rx.sub(rep, out)
    return out


def markdown_to_html(md: str, caption: str = "") -> str:
    """The Markdown repalign writes (headings, tables, lists, paragraphs, bold, code) as HTML.

    Parameters
    ----------
    md : str
    caption : str
        Caption of its tables: the nearest heading above a table, else this.

    Returns
    -------
    str
    """
    lines, out, i = md.splitlines(), [], 0
    heading = caption
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1].strip()):
            header = [c.strip() for c in ln.strip().strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([_inline(c.strip()) for c in lines[i].strip().strip("|").split("|")])
                i += 1
            out.append(_table(header, rows, heading or "table"))
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", ln)
        if m:
            heading = m.group(2).replace("**", "").replace("`", "")
            level = min(6, len(m.group(1)) + 2)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif ln.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif ln.strip() and not ln.startswith("!["):
            para = [ln]
            while i + 1 < len(lines) and lines[i + 1].strip() and not re.match(r"^(\||#|- |!\[)", lines[i + 1]):
                i += 1
                para.append(lines[i])
            out.append(f"<p>{_inline(' '.join(para))}</p>")
        i += 1
    return "\n".join(out)


# ------------------------------------------------------------------------------ renderers


def _similarity(d, path, ctx, pair: str = "X vs Y"):
    rows = []
    for name, r in d["measures"].items():
        rows.append([_esc(name), _num(r["value"], MEASURE_DIGITS), _interval(r) or "–", _p_text(r) or "–",
                     "higher" if r.get("higher_is_more_similar", True) else "lower"])
    return (f"<p>n = {_num(d['n'])}, dimensions {_num(d.get('dim_x'))} / {_num(d.get('dim_y'))}.</p>"
            + _table(["measure", "value", "interval", "p-value", "more similar"], rows,
                     f"similarity measures of {pair} ({path.name}): value, bootstrap interval, permutation p-value"))


def _curve_png(curves: dict) -> bytes:
    views = {label: SimpleNamespace(fractions=c["fractions"], mean={k: v["mean"] for k, v in c["measures"].items()},
                                    std={k: v["std"] for k, v in c["measures"].items()})
             for label, c in curves.items()}
    return _png(shuffle_curves(views))


def _shuffle(d, path, ctx):
    ctx["images"] += 1
    return _img_bytes(_curve_png({path.stem: d}), "image/png",
                      f"each similarity measure against the fraction of shuffled pairs ({path.name})")


def _matching(d, path, ctx):
    rows = [[_esc(m), f"{100 * v['matching_accuracy']:.1f} ± {100 * v.get('matching_accuracy_std', 0):.1f} %",
             f"{100 * v.get('top1', float('nan')):.1f} %", f"{100 * v.get('top5', float('nan')):.1f} %",
             _num(v.get("seconds"))] for m, v in d["methods"].items()]
    s = d.get("settings", {})
    return (f"<p>base {_esc(s.get('base_size'))}, queries {_esc(s.get('query_size'))}, seeds "
            f"{_esc(s.get('seeds'))}.</p>" + _table(["method", "matching accuracy", "top-1", "top-5", "seconds"], rows,
                                                      f"matching with known base pairs ({path.name}), per method"))


def _demo(d, path, ctx):
    parts = []
    for label, p in d["pairs"].items():
        parts.append(f"<h3>{_esc(label)}</h3><p>{_esc(p.get('description', ''))}</p>")
        parts.append(_similarity(p["similarity"], path, ctx, label))
    curves = {label: p["shuffle_curve"] for label, p in d["pairs"].items() if "shuffle_curve" in p}
    if curves:
        ctx["images"] += 1
        parts.append(_img_bytes(_curve_png(curves), "image/png", "each similarity measure against the fraction of "
                                "shuffled pairs, one line per compared pair"))
    ctx["embedded"].add((path.parent / "shuffle_curve.png").resolve())
    return "".join(parts)


def _confusions(mats, titles, class_names, ctx) -> str:
    """Row-normalised confusion matrices (true class x predicted class), each an SVG heatmap drawn
    from its counts with the share on hover, side by side where the page is wide."""
    parts = []
    for M, title in zip(mats, titles, strict=True):
        C = np.asarray(M, dtype=float)
        names = [str(c) for c in class_names] if class_names is not None and len(class_names) == len(C) else \
            [str(k) for k in range(len(C))]
        share = C / np.maximum(C.sum(axis=1, keepdims=True), 1)
        acc = float(np.trace(C) / max(C.sum(), 1))
        parts.append(_svg_heatmap(share, names, names, "true", "predicted",
                                  f"confusion matrix, {title}: share of each true class (rows) predicted as each "
                                  f"class (columns); accuracy {_num(acc, 3)}", top_down=True, max_px=360))
    return '<div class="grid">' + "".join(parts) + "</div>"


def _unsupervised(d, path, ctx):
    rows = [[_num(d.get("accuracy")), _num(d.get("oracle_accuracy")), _num(d.get("matched_clusters")),
             _num(d.get("chance"))]]
    body = _table(["accuracy", "oracle accuracy", "clusters mapped right", "chance"], rows,
                  f"unsupervised classifier ({path.name}): shares of items / clusters")
    if d.get("confusion") is not None:
        body += _confusions([d["confusion"]], [path.stem], d.get("class_names"), ctx)
    return body


def _short(text, limit: int = 110) -> str:
    text = str(text)
    return _esc(text if len(text) <= limit else text[:limit - 1] + "…")


def _mode_end(m: dict, other: bool = False, k: int = 5) -> str:
    """One end of a SPEC mode: its top captions (numbered) or its majority class and purity."""
    pre = "other_" if other else ""
    caps = m.get(f"{pre}captions")
    if caps:
        return "<ol>" + "".join(f"<li>{_short(c)}</li>" for c in caps[:k]) + "</ol>"
    if m.get(f"{pre}majority_class") is not None:
        pur = m.get(f"{pre}purity")
        pur = "–" if pur is None else f"{100 * float(pur):.0f} %"
        return (f"mostly <b>{_esc(m[f'{pre}majority_class'])}</b> (purity {pur}); items "
                f"{_esc(', '.join(map(str, (m.get(f'{pre}indices') or m.get('top_indices') or [])[:k])))}")
    idx = m.get(f"{pre}indices") if other else m.get("top_indices")
    return f"items {_esc(', '.join(map(str, (idx or [])[:k])))}" if idx else ""


def _mode_thumbs(path: Path | None, a: str, b: str, side: str) -> str:
    """The strongest mode's top images of one side, when the experiment wrote them beside its
    result (``NAME_<A>_vs_<B>_<side>_top.png``, :func:`repalign.plotting.thumbnail_strip`)."""
    if path is None:
        return ""
    f = path.parent / f"{path.stem}_{a}_vs_{b}_{side}_top.png"
    if not f.is_file():
        return ""
    return "<br>" + _img_bytes(f.read_bytes(), "image/png", f"top images of the strongest mode {a} vs {b}, side {side}")


def _groups(m: dict, a: str = "A", b: str = "B") -> str:
    return f"{a} groups these, {b} does not" if m["eigenvalue"] > 0 else f"{b} groups these, {a} does not"


def _modes_table(modes, a: str, b: str) -> str:
    """SPEC modes (jalali2025): per mode its eigenvalue, which embedding groups the items, and both
    ends of the eigenvector (the second end where the result kept it)."""
    has_other = any(m.get("other_captions") or m.get("other_majority_class") or m.get("other_indices")
                    for m in modes)
    header = ["mode", "λ", "who groups them", "top items"] + (["other end"] if has_other else [])
    rows = []
    for k, m in enumerate(modes):
        row = [str(k + 1), _num(m["eigenvalue"], 3), _esc(_groups(m, a, b)), _mode_end(m)]
        if has_other:
            row.append(_mode_end(m, other=True))
        rows.append(row)
    return _table(header, rows, f"SPEC modes of {a} (A) vs {b} (B): eigenvalue, who groups the items, top "
                                "items").replace("<table ", '<table class="modes" ', 1)


def _strongest(modes) -> list:
    """The strongest mode of each sign (largest |λ| first on each side)."""
    pos = sorted((m for m in modes if m["eigenvalue"] > 0), key=lambda m: -m["eigenvalue"])[:1]
    neg = sorted((m for m in modes if m["eigenvalue"] < 0), key=lambda m: m["eigenvalue"])[:1]
    return pos + neg


def _svg_scatter(points, xlabel: str, ylabel: str, caption: str, width: int = 520, height: int = 360) -> str:
    """Points ``(x, y, label, group)`` as an inline SVG scatter: each point's label and values in a
    ``<title>`` (hover) and ``aria-label``; one colour per group, a legend, axes with ticks."""
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    groups = list(dict.fromkeys(p[3] for p in points))
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    left, bottom, top, right = 50, 40, 10, 10
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    x0, x1 = (x0 - 0.05 * (x1 - x0 or 1), x1 + 0.05 * (x1 - x0 or 1))
    y0, y1 = (y0 - 0.05 * (y1 - y0 or 1), y1 + 0.05 * (y1 - y0 or 1))

    def px(x):
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y):
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="scatter" viewBox="0 0 {width} {height}" width="{width}" '
           f'role="img" aria-label="{_esc(caption)}" style="max-width:100%;height:auto;font:10px sans-serif">',
           f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" fill="none" '
           'stroke="#999"/>']
    for t in np.linspace(x0, x1, 5)[1:-1]:
        out.append(f'<text x="{px(t):.1f}" y="{height - bottom + 14}" text-anchor="middle">{_num(t, 2)}</text>')
    for t in np.linspace(y0, y1, 5)[1:-1]:
        out.append(f'<text x="{left - 4}" y="{py(t) + 3:.1f}" text-anchor="end">{_num(t, 2)}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">{_esc(xlabel)}</text>')
    out.append(f'<text x="12" y="{(top + height - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 12 {(top + height - bottom) / 2})">{_esc(ylabel)}</text>')
    for x, y, label, g in points:
        c = colours[groups.index(g) % len(colours)]
        tip = f"{label}: {xlabel} {_num(x, 3)}, {ylabel} {_num(y, 3)}"
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{c}" fill-opacity=".75" '
                   f'aria-label="{_esc(tip)}"><title>{_esc(tip)}</title></circle>')
    for k, g in enumerate(groups):
        out.append(f'<circle cx="{left + 12}" cy="{top + 12 + 14 * k}" r="4" fill="{colours[k % len(colours)]}"/>'
                   f'<text x="{left + 20}" y="{top + 15 + 14 * k}">{_esc(g)}</text>')
    out.append("</svg>")
    return f"<figure>{''.join(out)}<figcaption>{_esc(caption)}</figcaption></figure>"


def _experiment_extras(d, path, ctx) -> str:
    """What an experiment's rows hold beyond its table: SPEC modes with their captions or classes
    (and the mode notes written beside the result), the CKA-vs-QAP scatter."""
    body = []
    rows = [r for r in d["rows"] if isinstance(r, dict)]
    for r in rows:
        if isinstance(r.get("modes"), list) and r["modes"]:
            a, b = str(r.get("a", "A")), str(r.get("b", "B"))
            body.append(f"<h4>SPEC modes: {_esc(a)} (A) vs {_esc(b)} (B), SPEC-diff {_num(r.get('spec_diff'), 3)}</h4>"
                        + _modes_table(r["modes"], a, b))
    for note in sorted(path.parent.glob(f"{path.stem}_*.md")):
        ctx["embedded"].add(note.resolve())
        body.append(f"<details><summary>every mode with its items: {_esc(note.name)}</summary>"
                    + markdown_to_html(note.read_text(encoding="utf-8", errors="replace"), note.stem) + "</details>")
    pts = [(float(r["cka"]), float(r["qap_accuracy"]), f"{r.get('a')} vs {r.get('b')}", str(r.get("kind", "")))
           for r in rows if isinstance(r.get("cka"), (int, float)) and isinstance(r.get("qap_accuracy"), (int, float))]
    if len(pts) >= 3:
        corr = d.get("correlation", {}).get("all", {})
        extra = (f"; Pearson {_num(corr.get('pearson'), 3)}, Spearman {_num(corr.get('spearman'), 3)}, "
                 f"n = {corr.get('n')}") if corr else ""
        body.append(_svg_scatter(pts, "CKA", "QAP matching accuracy",
                                 f"CKA of each encoder pair against its QAP matching accuracy (hover a point){extra}"))
    return "".join(body)


def _experiment(d, path, ctx):
    exp = EXPERIMENTS.get(d.get("experiment") or "")
    if exp is None:
        raise ValueError("no known experiment name in the file (written by an older version)")
    res = exp.result_type().from_dict(d)
    same = path.with_suffix(".md")  # the experiment's own Markdown: the table below, not a second time in Notes
    if same.exists():
        ctx["embedded"].add(same.resolve())
    body = markdown_to_html(res.markdown(), exp.title) + _experiment_extras(d, path, ctx)
    drawn = False
    for r in d["rows"]:  # layer maps in the rows: drawn from the numbers, values on hover
        if isinstance(r, dict) and isinstance(r.get("matrix"), list) and r.get("layers_a") and r.get("layers_b"):
            drawn = True
            body += _svg_heatmap(r["matrix"], list(r["layers_a"]), list(r["layers_b"]), "A", "B",
                                 f"linear CKA, {r.get('model_a', 'A')} (rows) vs {r.get('model_b', 'B')} (columns)"
                                 + (f", n = {r['n']}" if r.get("n") else ""))
    with_cm = [r for r in d["rows"] if isinstance(r, dict) and r.get("confusion")]
    if with_cm:
        titles = [" vs ".join(str(r[k]) for k in ("image_encoder", "text_encoder") if k in r) or str(i)
                  for i, r in enumerate(with_cm)]
        body += _confusions([r["confusion"] for r in with_cm], titles, d["settings"].get("class_names"), ctx)
    for img in sorted(path.parent.glob(f"{path.stem}*.png")):
        ctx["embedded"].add(img.resolve())
        if drawn and "_vs_" in img.stem:  # the same layer map as a picture: drawn above already
            continue
        if img.name.endswith("_top.png"):  # a mode's top images: shown in the summary
            continue
        ctx["images"] += 1
        body += f"<figure>{_img_file(img)}<figcaption>{_esc(_alt_for(img))}</figcaption></figure>"
    return body + f"<p class='muted'>{_num(d.get('seconds'))} s.</p>"


def _spec(d, path, ctx):
    view = _view(d, modes=[SimpleNamespace(**m) for m in d["modes"]])
    ctx["images"] += 1
    body = _img_bytes(_png(spectrum(view, title=f"SPEC spectrum, SPEC-diff {d['spec_diff']:.4f}")), "image/png",
                      f"SPEC spectrum: the eigenvalues of the kernel difference, SPEC-diff {d['spec_diff']:.4f}")
    body += (f"<p>{_esc(d.get('kernel'))} kernel, η = {_num(d.get('eta'))}, n = {_num(d.get('n'))}, Frobenius "
             f"{_num(d.get('frobenius'))}, route {_esc(d.get('route'))}.</p>" + _modes_table(d["modes"], "A", "B"))
    for name in ("spectrum.png", "gallery_A.png", "gallery_B.png", "map.png"):
        f = path.parent / name
        if f.exists():
            ctx["embedded"].add(f.resolve())
            if name != "spectrum.png":
                ctx["images"] += 1
                body += f"<figure>{_img_file(f)}<figcaption>{_esc(name)}</figcaption></figure>"
    notes = path.parent / "modes.md"
    if notes.exists():
        ctx["embedded"].add(notes.resolve())
        body += "<details><summary>modes.md</summary>" + markdown_to_html(notes.read_text(encoding="utf-8"), "SPEC modes") + "</details>"
    return body


def _svg_heatmap(M, rows, cols, row_title: str, col_title: str, caption: str, vmin=0.0, vmax=1.0,
                 thumbnail: bool = False, top_down: bool = False, max_px: int = 640) -> str:
    """A matrix as an inline SVG heatmap (magma, ``vmin``..``vmax``): every cell carries its row,
    column and value in a ``<title>`` (shown on hover) and an ``aria-label``; row labels left,
    column labels below (every k-th when there are many). Row 0 at the bottom (layer maps), or at
    the top with ``top_down`` (confusion matrices); cells sized to fit ``max_px``.
    ``thumbnail``: 4-px cells, no labels (the summary's)."""
    from matplotlib import colormaps  # noqa: PLC0415 - the report's optional extra

    cmap = colormaps["magma"]
    M = np.asarray(M, dtype=float)
    nr, nc = M.shape
    cell = 4 if thumbnail else max(8, min(26, max_px // max(nr, nc, 1)))
    left, bottom = (0, 0) if thumbnail else (110, 70)
    w, h = left + nc * cell + 10, nr * cell + bottom
    every_r, every_c = max(1, -(-nr * 11 // (nr * cell))), max(1, -(-nc * 11 // (nc * cell)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" viewBox="0 0 {w} {h}" width="{w}" '
             f'role="img" aria-label="{_esc(caption)}" style="max-width:100%;height:auto;font:10px sans-serif">']
    for i in range(nr):
        y = (i if top_down else nr - 1 - i) * cell  # layer maps: row 0 at the bottom, as the figures draw them
        if i % every_r == 0 and not thumbnail:
            parts.append(f'<text x="{left - 4}" y="{y + cell * 0.7:.1f}" text-anchor="end">{_esc(rows[i])}</text>')
        for j in range(nc):
            v = M[i, j]
            t = 0.0 if not np.isfinite(v) else min(1.0, max(0.0, (v - vmin) / (vmax - vmin)))
            r, g, b, _ = cmap(t)
            label = f"{row_title} {rows[i]} × {col_title} {cols[j]}: {_num(v)}"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell}" height="{cell}" '
                         f'fill="rgb({int(255 * r)},{int(255 * g)},{int(255 * b)})" aria-label="{_esc(label)}">'
                         f"<title>{_esc(label)}</title></rect>")
    for j in range(0, 0 if thumbnail else nc, every_c):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.1f}" y="{nr * cell + 8}" transform="rotate(60 {x:.1f} {nr * cell + 8})">'
                     f"{_esc(cols[j])}</text>")
    parts.append("</svg>")
    if thumbnail:
        return "".join(parts)
    return f"<figure>{''.join(parts)}<figcaption>{_esc(caption)}</figcaption></figure>"


def _layerwise(d, path, ctx):
    M = np.asarray(d["matrix"], dtype=float)
    for name in ("layers.png", "best_match.png"):  # the map itself is drawn below, from the numbers
        ctx["embedded"].add((path.parent / name).resolve())
    body = (f"<p>{_esc(d['model_a'])} (rows) vs {_esc(d['model_b'])} (columns), n = {_num(d['n'])}, "
            f"{_esc(d['estimator'])} estimator, {_esc(d['pooling'])} pooling; linear CKA, 0 to 1.</p>"
            + _svg_heatmap(M, list(d["layers_a"]), list(d["layers_b"]), "A", "B",
                           f"linear CKA of every layer of {d['model_a']} with every layer of {d['model_b']} "
                           "(hover a cell for its value)"))
    for name, what in (("diagonal.png", "CKA of layer i of A with layer i of B"),
                       ("best_match.png", "each layer of A: the CKA of its best-matching layer of B")):
        f = path.parent / name  # the diagonal (square maps) or best-match curve (others), kept
        if f.exists():
            ctx["embedded"].add(f.resolve())
            ctx["images"] += 1
            body += f"<figure>{_img_bytes(f.read_bytes(), 'image/png', what)}<figcaption>{what}</figcaption></figure>"
    return body


def _rsm(d, path, ctx):
    npy = path.with_suffix("") if path.name.endswith(".npy.json") else None
    body = f"<p>{_esc(d.get('invariance'))} invariance, {_esc(d.get('kernel'))} kernel, matcher {_esc(d.get('matcher'))}, " \
           f"shape {_esc(d.get('shape'))}.</p>"
    if npy is not None and npy.exists():
        R = np.load(npy, allow_pickle=False)
        if R.ndim == 2 and max(R.shape) <= SVG_RSM_MAX:  # small: drawn from the numbers, values on hover
            lo, hi = float(np.nanmin(R)), float(np.nanmax(R))
            body += _svg_heatmap(R, [str(i) for i in range(R.shape[0])], [str(j) for j in range(R.shape[1])],
                                 "sample", "sample", f"RSM {npy.name}: similarity of every pair of samples "
                                 f"({_num(lo, 3)} to {_num(hi, 3)}; hover a cell)", vmin=lo, vmax=hi if hi > lo else lo + 1,
                                 top_down=True)
        else:
            fig = matrix_heatmap(R, title=npy.name)
            ctx["images"] += 1
            body += _img_bytes(_png(fig), "image/png", f"RSM {npy.name}: similarity of every pair of samples")
    return body


#: RSMs up to this many rows and columns are drawn as SVG with hover values; larger ones as a PNG
SVG_RSM_MAX = 64


def _qap(d, path, ctx):
    rows = [[_esc(d.get("instance", path.stem)), _num(d.get("n")), _esc(d.get("solver")), _num(d["objective"]),
             _num(d.get("lower_bound")), "yes" if d.get("optimal") else "no", _num(d.get("gap")),
             _num(d.get("gap_to_reference")), _num(d.get("seconds"))]]
    return _table(["instance", "n", "solver", "objective", "lower bound", "optimal", "gap", "gap to .sln", "seconds"],
                  rows, f"QAP result ({path.name})")


# ------------------------------------------------------------------------------ summary

def _p_text(r: dict) -> str:
    """A permutation p-value, one format everywhere on the page: at its floor 1/(B+1) it is shown
    as such (``≤ 1/101``: the test cannot say more with B permutations), else 2 digits."""
    p, b = r.get("p_value"), r.get("n_permutations")
    if p is None:
        return ""
    if b and abs(float(p) - 1.0 / (int(b) + 1)) < 1e-12:
        return f"≤ 1/{int(b) + 1}"
    return _num(p, 2)


def _interval(r: dict) -> str:
    """A bootstrap interval in the measures' format (:data:`MEASURE_DIGITS`), or ''."""
    if r.get("ci_low") is None:
        return ""
    return f"[{_num(r['ci_low'], MEASURE_DIGITS)}, {_num(r['ci_high'], MEASURE_DIGITS)}]"


def _measures_line(sim: dict) -> str:
    """Every measure of a similarity result on one line: value, interval, p-value."""
    parts = []
    for name, r in sim.get("measures", {}).items():
        ci = _interval(r)
        pv = _p_text(r)
        parts.append(f"<b>{_esc(name)}</b> {_num(r.get('value'), MEASURE_DIGITS)}" + (f" {ci}" if ci else "")
                     + (f", p {pv}" if pv else ""))
    return "; ".join(parts)


#: the "compared" cell of a result with no one-line answer (see :func:`_summary`)
_NO_ANSWER = "–"


def _layer_item(M, model_a: str, model_b: str, layers_a, layers_b) -> tuple:
    """A summary row for one layer map: mean (and diagonal mean) CKA and a thumbnail."""
    line = f"mean CKA {_num(M.mean(), 3)}"
    if M.ndim == 2 and M.shape[0] == M.shape[1]:
        line += f", diagonal mean {_num(np.diag(M).mean(), 3)}"
    thumb = _svg_heatmap(M, layers_a, layers_b, "A", "B", f"layer map of {model_a} vs {model_b}", thumbnail=True)
    return f"{_esc(model_a)} vs {_esc(model_b)} ({M.shape[0]} x {M.shape[1]} layers)", f"{line}<br>{thumb}"


def _summary_items(kind: str, d: dict, path: Path | None = None) -> list:
    """``(what was compared, the answer)`` rows for the summary, per result kind (HTML strings)."""
    if kind == "similarity":
        return [(f"n = {_num(d.get('n'))}", _measures_line(d))]
    if kind == "demo":
        return [(f"{_esc(label)}<br><span class='muted'>{_esc(p.get('description', ''))}</span>",
                 _measures_line(p.get("similarity", {}))) for label, p in d.get("pairs", {}).items()]
    if kind == "spec":
        modes = d.get("modes", [])
        text = "".join(f"<br>{_esc(_groups(m))} (λ {_num(m['eigenvalue'], 3)}): {_mode_end(m, k=3)}"
                       for m in _strongest(modes))
        return [(f"SPEC, {_esc(d.get('kernel'))} kernel, n = {_num(d.get('n'))}",
                 f"SPEC-diff {_num(d.get('spec_diff'), 3)}{text}")]
    if kind == "layerwise":
        return [_layer_item(np.asarray(d["matrix"], dtype=float), str(d["model_a"]), str(d["model_b"]),
                            list(d["layers_a"]), list(d["layers_b"]))]
    if kind == "matching":
        res = d.get("methods", {})
        line = "; ".join(f"<b>{_esc(k)}</b> matching accuracy {_num(v.get('matching_accuracy'), 3)}"
                         for k, v in res.items() if isinstance(v, dict))
        return [("matching with known base pairs", line)] if line else []
    if kind == "unsupervised":
        return [("unsupervised classifier", f"accuracy {_num(d.get('accuracy'), 3)}, oracle "
                 f"{_num(d.get('oracle_accuracy'), 3)}")]
    if kind == "experiment":
        rows = [r for r in d.get("rows", []) if isinstance(r, dict)]
        spec_rows = [r for r in rows if isinstance(r.get("modes"), list) and r["modes"]]
        if spec_rows:  # per compared pair: SPEC-diff and the strongest mode of each sign with its items
            out = []
            for r in spec_rows:
                a, b = str(r.get("a", "A")), str(r.get("b", "B"))
                ends = "".join(f"<br>{_esc(_groups(m, a, b))} (λ {_num(m['eigenvalue'], 3)}): {_mode_end(m, k=3)}"
                               + _mode_thumbs(path, a, b, "A" if m["eigenvalue"] > 0 else "B")
                               for m in _strongest(r["modes"]))
                out.append((f"{_esc(a)} vs {_esc(b)}", f"SPEC-diff {_num(r.get('spec_diff'), 3)}{ends}"))
            return out
        corr = d.get("correlation", {}).get("all") if isinstance(d.get("correlation"), dict) else None
        if corr:
            return [(f"{corr.get('n')} encoder pairs", f"CKA vs QAP matching accuracy: Pearson "
                     f"{_num(corr.get('pearson'), 3)}, Spearman {_num(corr.get('spearman'), 3)}")]
        maps = [r for r in rows if isinstance(r.get("matrix"), list) and r.get("layers_a") and r.get("layers_b")]
        if maps:  # layer maps: per pair of models, the mean and a thumbnail of the map
            return [_layer_item(np.asarray(r["matrix"], dtype=float), str(r.get("model_a", "A")),
                                str(r.get("model_b", "B")), list(r["layers_a"]), list(r["layers_b"])) for r in maps]
        pairs = [r for r in rows if "image_encoder" in r and "text_encoder" in r]
        if pairs:  # classifiers: one line, every encoder pair's accuracy (or its first method's top-1)
            parts, what = [], "accuracy"
            for r in pairs:
                label = f"{r['image_encoder']} vs {r['text_encoder']}" + (f" ({r['measure']})" if r.get("measure") else "")
                if isinstance(r.get("accuracy"), (int, float)):
                    parts.append(f"<b>{_esc(label)}</b> {_num(r['accuracy'], 3)}")
                    continue
                method = next((k for k, v in r.items() if isinstance(v, dict) and isinstance(v.get("top1"), (int, float))),
                              None)
                if method is not None:
                    what = f"{method} top-1"
                    parts.append(f"<b>{_esc(label)}</b> {_num(r[method]['top1'], 3)}")
            if parts:
                return [(f"{len(pairs)} image/text encoder pairs, {_esc(what)}", "; ".join(parts))]
        return [(_NO_ANSWER, "")]
    if kind == "qap":
        return [(f"QAP {_esc(d.get('instance', ''))}", f"objective {_num(d.get('objective'))}, "
                 f"{'proved optimal' if d.get('optimal') else 'gap ' + _num(d.get('gap'))}")]
    return []


def _summary(entries) -> str:
    """The page's first section: per result, what was compared and the answer, linked to the
    result's own section."""
    rows = [[f'<a href="#s{k}">{_esc(title)}</a>', what, answer] for k, title, what, answer in entries
            if what != _NO_ANSWER]
    rest = [f'<a href="#s{k}">{_esc(title)}</a>' for k, title, what, _ in entries if what == _NO_ANSWER]
    if rest:  # results with no one-line answer: listed once, at the end
        rows.append(["other results", "tables in their sections", "; ".join(rest)])
    if not rows:
        return ""
    return ('<section id="summary"><h2>Summary</h2><p class="muted">One row per compared pair; the '
            'sections below hold the tables and figures. p ≤ 1/(B+1) is the smallest p-value B '
            'permutations can give.</p>' + _table(["result", "compared", "answer"], rows, "summary: per result, what was compared and the answer",
                   collapse=False) + "</section>")


_COMMANDS = "commands"
_OTHER = "other"
_GROUP_TITLES = {_COMMANDS: "Results of repalign commands", _OTHER: "Other files"}


def _placement(kind: str, d: dict, label: str, rel) -> tuple[str, str]:
    """``(group, heading)`` of a result's section: experiments under their paper with the title
    ``repalign experiment list`` gives them; the demo under its own group; the results of commands
    (similarity, spec, layers, match, ...) by kind and file."""
    if kind == "experiment":
        exp = EXPERIMENTS.get(d.get("experiment") or "")
        if exp is not None:
            return exp.paper, exp.title
    if kind == "demo":
        return "repalign", "The demo: two encoders on the same items, every measure"
    return _COMMANDS, f"{label}: {rel}"


def _kind(d) -> str | None:
    """The result type of a file: its ``kind`` field, nothing else (files without one were written by
    an older version and are listed as skipped)."""
    return d.get("kind") if isinstance(d, dict) else None


RENDERERS = {"similarity": ("Similarity", _similarity), "shuffle-curve": ("Shuffle curve", _shuffle),
             "unsupervised": ("Unsupervised classifier", _unsupervised),
             "matching": ("Matching", _matching), "demo": ("Demo", _demo), "experiment": ("Experiment", _experiment),
             "spec": ("SPEC", _spec), "layerwise": ("Layer-wise CKA", _layerwise), "rsm": ("RSM", _rsm),
             "qap": ("QAP", _qap)}

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1b1b;padding:0 1rem}h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.3rem;
margin-top:2rem}h3{font-size:1.05rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left}caption{text-align:left;color:#555;
font-size:.8rem;padding:.2rem 0;caption-side:top}th{background:#f3f3f3}img{max-width:100%;height:auto}
figure{margin:.6rem 0}.grid{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem}.grid figure{max-width:100%}
.modes td{vertical-align:top}.modes ol{margin:0;padding-left:1.2rem}figcaption,.muted{color:#666;font-size:.8rem}code{background:#f3f3f3;padding:0 .2rem}
nav ul{columns:2;font-size:.9rem}.skipped li{color:#8a4b00}.scroll{overflow-x:auto;max-width:100%}
h1,h2,h3,li,p,code{overflow-wrap:anywhere}pre{overflow-x:auto}h2.group{margin-top:2.5rem;border-bottom:2px solid #bbb}
main img{cursor:zoom-in}main img.zoomed{position:fixed;inset:0;margin:auto;max-width:96vw;max-height:96vh;
z-index:10;background:#fff;box-shadow:0 0 0 100vmax rgba(0,0,0,.6);cursor:zoom-out}
@media print{body{margin:0;max-width:none}.scroll{overflow:visible}table{table-layout:fixed;width:100%;
font-size:.6rem}th,td{overflow-wrap:anywhere;word-break:break-word}details{display:block}nav{display:none}
svg,img{max-width:100%!important;height:auto}}"""


def _in_checkpoint_folder(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in a resumable experiment's checkpoint folder (``NAME.parts/`` with
    its ``settings.sha256`` stamp, written by ``repalign.experiments`` units): partial results,
    not something to render or to list as skipped (a cka-vs-qap run leaves 75 of them)."""
    for parent in path.relative_to(root).parents:
        if parent.name.endswith(".parts") and (root / parent / "settings.sha256").is_file():
            return True
    return False


def build_report(results_dir, out, *, force: bool = False, title: str | None = None) -> ReportResult:
    """Render every result in a folder into one self-contained HTML page (module docstring).

    Parameters
    ----------
    results_dir : path
        Searched recursively (resumable experiments' ``NAME.parts/`` checkpoint folders are left
        out).
    out : path
        The ``.html`` file; never replaced without ``force``.
    force : bool
    title : str, optional

    Returns
    -------
    ReportResult
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise ValueError(f"{root}: no such results folder")
    out = check_extension(out, (".html", ".htm"), "report")
    check_writable(out, force)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.resolve() != out.resolve()
                   and not _in_checkpoint_folder(p, root))
    if not files:
        raise ValueError(f"{root}: the results folder is empty; run an experiment or a command with --out first")
    ctx = {"images": 0, "embedded": set()}
    sections, skipped, summary = [], [], []
    for p in files:
        if p.suffix.lower() != ".json":
            continue
        rel = p.relative_to(root)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            skipped.append((str(rel), f"not readable JSON ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"))
            continue
        except RecursionError:  # json nests deeper than Python's recursion limit
            skipped.append((str(rel), "not readable JSON (nested too deeply to read)"))
            continue
        kind = _kind(d)
        if kind not in RENDERERS:
            if p.name.endswith(".npy.json") or (isinstance(d, dict) and {"n", "dim"} <= d.keys()):
                skipped.append((str(rel), "an embedding file's sidecar (metadata only)"))
            else:
                skipped.append((str(rel), f"no renderer for this result type (kind {kind!r})" if kind else
                                "unknown result type (written by an older version)"))
            continue
        label, fn = RENDERERS[kind]
        try:
            body = fn(d, p, ctx)
            items = _summary_items(kind, d, p)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the page
            skipped.append((str(rel), f"could not be rendered as {kind} ({type(exc).__name__}: {exc})"))
            continue
        group, heading = _placement(kind, d, label, rel)
        summary += [(len(sections), heading, what, answer) for what, answer in items]
        sections.append((f"{heading}", body, group, str(rel)))
    figures, notes = [], []
    for p in files:
        if p.resolve() in ctx["embedded"]:
            continue
        rel = p.relative_to(root)
        if p.suffix.lower() in (".png", ".svg", ".jpg", ".jpeg"):
            ctx["images"] += 1
            figures.append(f"<figure>{_img_file(p)}<figcaption>{_esc(rel)}</figcaption></figure>")
        elif p.suffix.lower() == ".md":
            notes.append(f"<h3>{_esc(rel)}</h3>" + markdown_to_html(p.read_text(encoding="utf-8", errors="replace"), str(rel)))
    if figures:
        sections.append(("Figures", "".join(figures), _OTHER, "~figures"))
    if notes:
        sections.append(("Notes", "".join(notes), _OTHER, "~notes"))
    title = title or f"repalign report: {root.name}"
    # grouped by paper (the registry's order), then the results of commands, then the rest; a
    # section keeps the id it was given (the summary links to it)
    order = list(PAPERS) + [_COMMANDS, _OTHER]
    shown = sorted(range(len(sections)), key=lambda k: (order.index(sections[k][2]), sections[k][3]))
    nav, body, current = [], [], None
    for k in shown:
        heading, html, group, rel = sections[k]
        if group != current:
            current = group
            body.append(f"<h2 class='group'>{_esc(_GROUP_TITLES.get(group, PAPERS.get(group, group)))}</h2>")
        nav.append(f'<li><a href="#s{k}">{_esc(heading)}</a></li>')
        sub = "" if rel.startswith("~") else f"<p class='muted'><code>{_esc(rel)}</code></p>"
        body.append(f'<section id="s{k}"><h3>{_esc(heading)}</h3>{sub}{html}</section>')
    nav, body = "".join(nav), "".join(body)
    skipped_html = ""
    if skipped:
        skipped_html = ('<section id="skipped"><h2>Skipped</h2><ul class="skipped">'
                        + "".join(f"<li><code>{_esc(f)}</code>: {_esc(r)}</li>" for f, r in skipped) + "</ul></section>")

    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_esc(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1>"
            f"<p class='muted'>{len(sections)} sections from {_esc(root)}, repalign {__version__}, {stamp}.</p>"
            f"<main>{_summary(summary)}<nav><ul>{nav}</ul></nav>{body}{skipped_html}</main>"
            f"<script>{_SORT_JS}</script></body></html>\n")
    with atomic_write(out, force=force) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return ReportResult(str(out), [sections[k][0] for k in shown], skipped, ctx["images"])
