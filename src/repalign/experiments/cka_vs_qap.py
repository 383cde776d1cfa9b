"""CKA against QAP matching accuracy over encoder pairs: the maniparambil2024 Figure 2 analogue.

Text pairs: XTD-10 English through an English encoder (``minilm``, ``minilm-l3``,
``glove-50d``) against each other language through a multilingual one (``use-multilingual``,
``e5-small-multilingual``): rows are translations of one caption. Image pairs: CIFAR-10 test
images through EfficientNet-Lite0/1/2 against a prompt of the image's class (the template
drawn per image) through every text encoder; a query counts as matched when it is assigned a
text of its own class. For every pair: linear CKA over all rows, and the matching accuracy of
the default seeded QAP (local-CKA start, FAQ, 2-opt) with M = 320 base pairs and N' = 500
queries (k-means base, stretched), one seed. Reports Pearson and Spearman correlations.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
from scipy import stats

from .._log import info as log_info
from ..datasets import PROMPT_TEMPLATES, XTD10_LANGUAGES, load_cifar10, load_xtd10
from ..encoders import encode_cached, get_encoder
from ..io import check_writable
from ..matching import QAPMatcher, split, stretch
from ..measures import cka
from ..plotting import save_figure, scatter
from ._base import TableResult, Units, write_result
from .blind import available_text_encoders

__all__ = ["CKAvsQAPResult", "run_cka_vs_qap"]


class CKAvsQAPResult(TableResult):
    def correlation(self, kind=None) -> dict:
        rows = [r for r in self.rows if kind is None or r["kind"] == kind]
        c, q = [r["cka"] for r in rows], [r["qap_accuracy"] for r in rows]
        if len(rows) < 3:
            return {"pearson": None, "spearman": None, "n": len(rows)}
        return {"pearson": float(stats.pearsonr(c, q)[0]), "spearman": float(stats.spearmanr(c, q)[0]), "n": len(rows)}

    def to_dict(self) -> dict:
        return {**super().to_dict(), "correlation": {k or "all": self.correlation(k) for k in (None, "text", "image")}}

    def markdown(self) -> str:
        lines = ["| kind | side A | side B | CKA | QAP accuracy |", "|---|---|---|---|---|"]
        for r in sorted(self.rows, key=lambda r: -r["cka"]):
            lines.append(f"| {r['kind']} | {r['a']} | {r['b']} | {r['cka']:.3f} | {100 * r['qap_accuracy']:.1f} |")
        lines.append("")
        for k in (None, "text", "image"):
            c = self.correlation(k)
            if c["pearson"] is not None:
                lines.append(f"- {k or 'all'} pairs (n = {c['n']}): Pearson {c['pearson']:.2f}, "
                             f"Spearman {c['spearman']:.2f}")
        return "\n".join(lines)

    def readme_markdown(self) -> str:
        lines = ["| pairs | n | Pearson | Spearman |", "|---|---|---|---|"]
        for k in ("text", "image", None):
            c = self.correlation(k)
            if c["pearson"] is not None:
                lines.append(f"| {k or 'all'} | {c['n']} | {c['pearson']:.2f} | {c['spearman']:.2f} |")
        return "\n".join(lines)


def _qap_accuracy(Z, H, classes=None, base_size=320, query_size=500, seed=0):
    base, query = split(Z, base_size, query_size, seed, "kmeans")
    rows = np.concatenate([base, query])
    Zs, Hs = stretch(Z[rows]), stretch(H[rows])
    hide = np.random.default_rng([seed, 7]).permutation(query_size)
    cols = QAPMatcher(precision="float32").fit(Zs[:base_size], Hs[:base_size]).match(Zs[base_size:],
                                                                                     Hs[base_size:][hide])
    matched = hide[cols]  # row j of the queries got the text of query matched[j]
    if classes is None:
        return float(np.mean(matched == np.arange(query_size)))
    cq = classes[query]
    return float(np.mean(cq[matched] == cq))


def _pair_unit(seed, shared, name: str) -> dict:
    """One encoder pair ``kind|a|b``: linear CKA over all rows and the seeded QAP's accuracy."""
    emb, classes = shared
    kind, a, b = name.split("|")
    Z, H = emb[a], emb[b]
    return {"kind": kind, "a": a, "b": b, "cka": float(cka(Z, H)),
            "qap_accuracy": _qap_accuracy(Z, H, classes=classes if kind == "image" else None, seed=seed)}


def run_cka_vs_qap(data_dir=None, english=("minilm", "minilm-l3", "glove-50d"),
                   multilingual=("use-multilingual", "e5-small-multilingual"), languages=None,
                   image_encoders=("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"),
                   text_encoders=("minilm", "use-multilingual", "e5-small-multilingual", "minilm-l3", "glove-50d"),
                   per_class: int = 100, seed: int = 0, out=None, plot=None, force: bool = False,
                   progress: bool = False, log=log_info, scheduler=None) -> CKAvsQAPResult:
    """Run the experiment (see module docstring); JSON to ``out``, scatter PNG to ``plot``.
    Embeddings are computed here first (through the cache); each encoder pair is then a
    checkpointed unit (resumable), run as a Dask task with ``scheduler``."""
    for p in (out, plot):
        if p:
            check_writable(p, force)
    t0 = time.perf_counter()
    langs = [x for x in (languages or XTD10_LANGUAGES) if x != "en"]

    def encode(model, items):
        return encode_cached(get_encoder(model), items, progress=progress)[0].astype(np.float64)

    emb, names = {}, []
    en_items = load_xtd10("en", data_dir).items
    multi = available_text_encoders(multilingual, log)
    for lang in langs:
        items = load_xtd10(lang, data_dir).items
        for b in multi:
            emb[f"{b}/{lang}"] = encode(b, items)
    for a in available_text_encoders(english, log):
        emb[f"{a}/en"] = encode(a, en_items)
        names += [f"text|{a}/en|{b}/{lang}" for b in multi for lang in langs]
    ds = load_cifar10(per_class=per_class, seed=0, data_dir=data_dir)
    rng = np.random.default_rng(seed)
    template = rng.integers(len(PROMPT_TEMPLATES), size=len(ds.labels))
    prompts = [PROMPT_TEMPLATES[t].format(ds.class_names[c]) for t, c in zip(template, ds.labels, strict=True)]
    texts = available_text_encoders(text_encoders, log)
    for t in texts:
        emb[t] = encode(t, prompts)
    for img in image_encoders:
        emb[img] = encode(img, ds.items)
        names += [f"image|{img}|{t}" for t in texts]
    settings = {"base_size": 320, "query_size": 500, "seed": seed, "per_class": per_class,
                "qap": "local-CKA start, FAQ (float32), 2-opt"}
    units = Units(out, {"experiment": "cka-vs-qap", **settings, "pairs": names}, force=force, log=log)
    unit = partial(_pair_unit, seed)

    def logged(shared, name):
        row = unit(shared, name)
        log(f"{row['a']} vs {row['b']}: CKA {row['cka']:.3f}, "
            f"QAP{' (class-level)' if row['kind'] == 'image' else ''} {100 * row['qap_accuracy']:.1f} %")
        return row

    rows = units.run(names, logged if scheduler is None else unit, scheduler=scheduler,
                     shared=(emb, np.asarray(ds.labels)))
    result = CKAvsQAPResult(rows, settings, time.perf_counter() - t0, experiment="cka-vs-qap")
    write_result(result, out, force)
    if plot:
        fig = scatter([{"CKA": r["cka"], "QAP matching accuracy": r["qap_accuracy"], "pairs": r["kind"]} for r in rows],
                      x="CKA", y="QAP matching accuracy", group="pairs", title="CKA vs QAP")
        save_figure(fig, plot, force=force, dpi=120)
    return result
