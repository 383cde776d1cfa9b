"""Cross-lingual caption matching, an analogue of maniparambil2024 Table 4, on XTD-10.

Side A: the English captions through an English-only encoder (``minilm``). Side B: the same
captions in each other language through a multilingual encoder (``use-multilingual``,
``e5-small-multilingual``). The encoders were never aligned. For each language: linear CKA
over all 1,000 pairs, matching accuracy of QAP / local CKA / relative / linear and local-CKA
retrieval@5 with M = 320 base pairs and N' = 500 queries over 3 seeds, and the aligned upper
bound: the multilingual encoder on both English and the other language, plain cosine, on
the same query sets.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
from scipy import stats

from .._log import info as log_info
from ..datasets import XTD10_LANGUAGES, load_xtd10
from ..encoders import encode_cached, get_encoder
from ..io import check_writable
from ..matching import run_matching
from ..measures import cka
from ._base import TableResult, Units, write_result

__all__ = ["CrossLingualResult", "run_crosslingual"]

METHODS = ("qap", "local-cka", "relative", "linear")
#: rows the experiment flags, by language: the report and the README show the note beside the row
LANGUAGE_NOTES = {"jp": "data-limited: STAIR captions are independent Japanese captions of the same images, not "
                        "translations of the English ones"}


class CrossLingualResult(TableResult):
    def to_dict(self) -> dict:
        return {**super().to_dict(), "cka_vs_qap": self.cka_vs_qap()}

    def cka_vs_qap(self) -> dict:
        """Pearson and Spearman correlation between CKA and QAP accuracy over the rows (the
        paper's Figure 2 relation, here across languages and encoders)."""
        c = [r["cka"] for r in self.rows]
        q = [r["matching"]["qap"]["matching_accuracy"] for r in self.rows]
        if len(c) < 3:
            return {"pearson": None, "spearman": None, "n": len(c)}
        return {"pearson": float(stats.pearsonr(c, q)[0]), "spearman": float(stats.spearmanr(c, q)[0]), "n": len(c)}

    def markdown(self) -> str:
        notes = any(r.get("note") for r in self.rows)
        head = ("| encoder | language | CKA | QAP | local CKA | relative | linear | local CKA R@5 | aligned cosine |"
                + (" note |" if notes else "") + "\n|---|---|---|---|---|---|---|---|---|" + ("---|" if notes else ""))
        lines = [head]
        for r in self.rows:
            acc = r["matching"]
            cells = [f"{100 * acc[m]['matching_accuracy']:.1f} ± {100 * acc[m]['matching_accuracy_std']:.1f}"
                     for m in METHODS]
            lines.append(f"| {r['encoder']} | {r['language']} | {r['cka']:.3f} | " + " | ".join(cells)
                         + f" | {100 * acc['local-cka']['top5']:.1f} | {100 * r['aligned_cosine']:.1f} |"
                         + (f" {r.get('note', '')} |" if notes else ""))
        corr = self.cka_vs_qap()
        if corr["pearson"] is not None:
            lines.append(f"\nCKA vs QAP accuracy over {corr['n']} rows: Pearson {corr['pearson']:.2f}, "
                         f"Spearman {corr['spearman']:.2f}.")
        return "\n".join(lines)


def _unit(base_size, query_size, seeds, shared, name: str) -> dict:
    """One (encoder, language) row: CKA, every method's matching, the aligned upper bound."""
    Z, emb = shared
    enc, lang = name.split("|")
    H, H_en = emb[(enc, lang)], emb[(enc, "en")]
    res = run_matching(Z, H, base_size, query_size, METHODS, seeds)
    upper = run_matching(H_en, H, base_size, query_size, ("cosine",), seeds)
    row = {"encoder": enc, "language": lang, "cka": cka(Z, H), "matching": res.methods,
           "aligned_cosine": upper.methods["cosine"]["matching_accuracy"]}
    if lang in LANGUAGE_NOTES:
        row["note"] = LANGUAGE_NOTES[lang]
    return row


def run_crosslingual(data_dir=None, english_model: str = "minilm",
                     multilingual=("use-multilingual", "e5-small-multilingual"), languages=None,
                     base_size: int = 320, query_size: int = 500, seeds=(0, 1, 2), out=None, force: bool = False,
                     progress: bool = False, log=log_info, scheduler=None) -> CrossLingualResult:
    """Run the experiment (see module docstring); writes JSON to ``out`` when given. Each
    (encoder, language) row is a checkpointed unit (resumable), run as a Dask task with
    ``scheduler``; embeddings are computed here first (through the cache)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    langs = [lang for lang in (languages or XTD10_LANGUAGES) if lang != "en"]
    texts = {lang: load_xtd10(lang, data_dir).items for lang in ["en", *langs]}
    Z = encode_cached(get_encoder(english_model), texts["en"], progress=progress)[0].astype(np.float64)
    emb = {}
    for name in multilingual:
        enc = get_encoder(name)
        for lang in ["en", *langs]:
            emb[(name, lang)] = encode_cached(enc, texts[lang], progress=progress)[0].astype(np.float64)
    settings = {"english_model": english_model, "multilingual": list(multilingual), "languages": langs,
                "base_size": base_size, "query_size": query_size, "seeds": list(seeds)}
    units = Units(out, {"experiment": "crosslingual", **settings}, force=force, log=log)
    names = [f"{m}|{lang}" for m in multilingual for lang in langs]
    unit = partial(_unit, base_size, query_size, seeds)

    def logged(shared, name):
        row = unit(shared, name)
        log(f"{row['encoder']} {row['language']}: CKA {row['cka']:.3f}, "
            + ", ".join(f"{m} {100 * row['matching'][m]['matching_accuracy']:.1f}" for m in METHODS))
        return row

    rows = units.run(names, logged if scheduler is None else unit, scheduler=scheduler, shared=(Z, emb))
    result = CrossLingualResult(rows, settings, time.perf_counter() - t0, experiment="crosslingual")
    write_result(result, out, force)
    return result
