"""Semantic RSM experiments on real feature maps (wald2024 §4 analogues).

EfficientNet-Lite0 (ImageNet-supervised) on CIFAR-10 test images upscaled to 256 px, feature
maps after blocks 4 (28 × 28 × 40), 10 (14 × 14 × 112), 15 (7 × 7 × 320) and the head
(7 × 7 × 1280); representations are zero-centred over the samples of each run, as the paper does.

* ``rsm-translation`` (§4.1): for each image an upper-left and a lower-left 224-px crop (they
  share 192 of 224 rows); similarities of overlapping pairs against unrelated pairs, and the
  ROC-AUC separating them, semantic vs spatio-semantic, per depth (RBF kernel, as the paper).
* ``rsm-retrieval`` (§4.2): CIFAR-10 queries against a database, the label of the most similar
  database image (precision@1, which for one label per image is the paper's F1@1), per kernel.
* ``rsm-output`` (§4.3, Table 1): Pearson and Spearman correlation between the Jensen–Shannon
  divergence of two images' ImageNet class probabilities (Lite0's logits) and their
  representational similarity, per kernel and depth, with and without permutation invariance
  (negative = similar representations go with similar predictions).
* ``rsm-approx`` (Table 5): relative similarity (approximate / optimal matched inner product)
  and time per pair of Greedy, TopK-Greedy, Batch-Optimal and the certified auction (not in
  the paper, :func:`repalign.assignment.auction`) at S = 49, 196, 784, 3136 (raw,
  uncentred activations: centred maps can have optima near zero, which makes ratios meaningless).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr

from .._log import info as log_info
from .._progress import track
from ..assignment import approximate, solve
from ..datasets import load_cifar10
from ..encoders import get_encoder
from ..encoders.images import load_rgb
from ..io import check_writable
from ..rsm import as_concept_sets, semantic_rsm, spatial_rsm
from ._base import TableResult, write_result

__all__ = ["RSMTranslationResult", "run_rsm_translation", "RSMRetrievalResult", "run_rsm_retrieval",
           "RSMOutputResult", "run_rsm_output", "RSMApproxResult", "run_rsm_approx"]

LAYERS = {4: "block 4 (28x28x40)", 10: "block 10 (14x14x112)", 15: "block 15 (7x7x320)", "head": "head (7x7x1280)"}
ROW_KERNELS = ("cosine", "inner", "rbf")  # repalign.rsm.RSM_KERNELS in the order of the tables' rows


def _images(data_dir, per_class, seed=0):
    ds = load_cifar10(per_class=per_class, seed=seed, data_dir=data_dir)
    return ds, [np.asarray(load_rgb(p).resize((256, 256), 2)) for p in ds.items]  # 2 = bilinear


def _maps(encoder, images, layers, progress):
    out = {k: [] for k in layers}
    for s in track(range(0, len(images), 32), "feature maps", total=-(-len(images) // 32), enabled=progress,
                   unit="batch"):
        m = encoder.feature_maps(images[s:s + 32], layers=layers)
        for k in layers:
            out[k].append(m[k])
    return {k: np.concatenate(v) for k, v in out.items()}


def _auc(pos, neg) -> float:
    """ROC-AUC that a positive pair scores above a negative one (ties count half)."""
    r = rankdata(np.concatenate([pos, neg]))
    n1, n0 = len(pos), len(neg)
    return float((r[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


class RSMTranslationResult(TableResult):
    def markdown(self) -> str:
        lines = ["| layer | matcher | AUC spatio-semantic | AUC semantic | overlapping pairs: mean similarity "
                 "spatio-semantic / semantic | unrelated pairs |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['layer']} | {r['matcher']} | {r['auc_spatial']:.3f} | {r['auc_semantic']:.3f} | "
                         f"{r['overlap_spatial']:.3f} / {r['overlap_semantic']:.3f} | "
                         f"{r['unrelated_spatial']:.3f} / {r['unrelated_semantic']:.3f} |")
        s = self.settings
        lines.append(f"\n{s['n_images']} CIFAR-10 test images upscaled to 256 px, upper-left and lower-left 224-px "
                     f"crops ({s['n_images']} overlapping pairs, {s['n_unrelated']} unrelated); RBF kernel; "
                     "EfficientNet-Lite0.")
        return "\n".join(lines)


def run_rsm_translation(data_dir=None, per_class: int = 6, layers=(4, 10, 15, "head"), matcher_large: str = "auction:0.01",
                        out=None, force: bool = False, progress: bool = False, log=log_info) -> RSMTranslationResult:
    """Overlapping crops: semantic vs spatio-semantic RSMs (module docstring). Layers with
    S > 400 use ``matcher_large`` (default the auction, every pair certified within 1 % of its
    optimum; Batch-Optimal(128) reached only ~0.9 of it in ``rsm-approx``)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    enc = get_encoder("efficientnet-lite0")
    _, imgs = _images(data_dir, per_class)
    crops = [im[:224, :224] for im in imgs] + [im[32:, :224] for im in imgs]  # upper-left, lower-left
    n = len(imgs)
    maps = _maps(enc, crops, list(layers), progress)
    rows = []
    iu = np.triu_indices(2 * n, 1)
    is_pair = (iu[1] - iu[0]) == n
    is_pair &= iu[0] < n
    for layer in layers:
        x = maps[layer]
        S = x.shape[2] * x.shape[3]
        matcher = matcher_large if S > 400 else "optimal"
        sem = semantic_rsm(x, kernel="rbf", matcher=matcher, center=True, progress=progress)
        spa = spatial_rsm(x, kernel="rbf", center=True)
        vs, vp = sem.matrix[iu], spa.matrix[iu]
        rows.append({"layer": LAYERS.get(layer, str(layer)), "matcher": matcher, "S": S,
                     "auc_semantic": _auc(vs[is_pair], vs[~is_pair]), "auc_spatial": _auc(vp[is_pair], vp[~is_pair]),
                     "overlap_semantic": float(vs[is_pair].mean()), "overlap_spatial": float(vp[is_pair].mean()),
                     "unrelated_semantic": float(vs[~is_pair].mean()), "unrelated_spatial": float(vp[~is_pair].mean()),
                     "seconds": sem.seconds})
        log(f"{rows[-1]['layer']}: AUC spatial {rows[-1]['auc_spatial']:.3f}, "
            f"semantic {rows[-1]['auc_semantic']:.3f}")
    result = RSMTranslationResult(rows, {"n_images": n, "n_unrelated": int((~is_pair).sum()), "kernel": "rbf"},
                                  time.perf_counter() - t0, experiment="rsm-translation")
    write_result(result, out, force)
    return result


class RSMRetrievalResult(TableResult):
    def markdown(self) -> str:
        lines = ["| layer | kernel | precision@1 spatio-semantic | precision@1 semantic |", "|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['layer']} | {r['kernel']} | {100 * r['p1_spatial']:.1f} % | {100 * r['p1_semantic']:.1f} % |")
        s = self.settings
        lines.append(f"\n{s['n_query']} CIFAR-10 test queries against a database of {s['n_database']} other test "
                     "images (disjoint); a query is right when its most similar database image has its label "
                     f"(= F1@1 for single-label images); chance 10 %. EfficientNet-Lite0 at 224 px.")
        return "\n".join(lines)


def run_rsm_retrieval(data_dir=None, n_query_per_class: int = 10, n_db_per_class: int = 50, layers=(15, "head"),
                      out=None, force: bool = False, progress: bool = False, log=log_info) -> RSMRetrievalResult:
    """Retrieval with semantic vs spatio-semantic RSMs (module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    enc = get_encoder("efficientnet-lite0")
    ds = load_cifar10(per_class=n_query_per_class + n_db_per_class, seed=1, data_dir=data_dir)
    rng = np.random.default_rng(0)
    q_idx, d_idx = [], []
    for c in range(len(ds.class_names)):
        idx = rng.permutation(np.flatnonzero(ds.labels == c))
        q_idx += list(idx[:n_query_per_class])
        d_idx += list(idx[n_query_per_class:n_query_per_class + n_db_per_class])
    q_idx, d_idx = np.array(q_idx), np.array(d_idx)
    images = [np.asarray(load_rgb(p)) for p in ds.items]
    maps = _maps(enc, images, list(layers), progress)
    rows = []
    for layer in layers:
        x = maps[layer]
        xq, xd = x[q_idx], x[d_idx]
        for kernel in ROW_KERNELS:
            sem = semantic_rsm(xq, y=xd, kernel=kernel, center=True, progress=progress)
            spa = spatial_rsm(xq, y=xd, kernel=kernel, center=True)
            yq, yd = ds.labels[q_idx], ds.labels[d_idx]
            p_sem = float(np.mean(yd[np.argmax(sem.matrix, axis=1)] == yq))
            p_spa = float(np.mean(yd[np.argmax(spa.matrix, axis=1)] == yq))
            rows.append({"layer": LAYERS.get(layer, str(layer)), "kernel": kernel, "p1_semantic": p_sem,
                         "p1_spatial": p_spa})
            log(f"{rows[-1]['layer']} {kernel}: P@1 {p_spa:.3f} -> {p_sem:.3f}")
    result = RSMRetrievalResult(rows, {"n_query": len(q_idx), "n_database": len(d_idx)}, time.perf_counter() - t0, experiment="rsm-retrieval")
    write_result(result, out, force)
    return result


def _jsd(P: np.ndarray) -> np.ndarray:
    """Pairwise Jensen–Shannon divergences (natural log) between the rows of P (n, k)."""
    logP = np.log(np.clip(P, 1e-300, None))
    ent = -(P * logP).sum(1)
    n = len(P)
    out = np.zeros((n, n))
    for i in range(n):
        M = 0.5 * (P[i] + P)
        hm = -(M * np.log(np.clip(M, 1e-300, None))).sum(1)
        out[i] = hm - 0.5 * (ent[i] + ent)
    return np.maximum(out, 0.0)


class RSMOutputResult(TableResult):
    def markdown(self) -> str:
        lines = ["| layer | kernel | Pearson, no PI | Pearson, PI | Spearman, no PI | Spearman, PI |",
                 "|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['layer']} | {r['kernel']} | {r['pearson_spatial']:.3f} | {r['pearson_semantic']:.3f} | "
                         f"{r['spearman_spatial']:.3f} | {r['spearman_semantic']:.3f} |")
        lines.append(f"\nCorrelation between the Jensen–Shannon divergence of EfficientNet-Lite0's ImageNet class "
                     f"probabilities and the representational similarity over all pairs of {self.settings['n']} CIFAR-10 "
                     "test images (more negative = the representation's notion of similarity agrees better with the "
                     "classifier's); PI = permutation invariance (semantic RSM).")
        return "\n".join(lines)


def run_rsm_output(data_dir=None, per_class: int = 20, layers=(10, 15, "head"), out=None, force: bool = False,
                   progress: bool = False, log=log_info) -> RSMOutputResult:
    """Output similarity vs representational similarity (module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    enc = get_encoder("efficientnet-lite0")
    logits_enc = get_encoder("efficientnet-lite0:logits")
    ds = load_cifar10(per_class=per_class, seed=2, data_dir=data_dir)
    images = [np.asarray(load_rgb(p)) for p in ds.items]
    maps = _maps(enc, images, list(layers), progress)
    z = logits_enc.encode(images).astype(np.float64)
    P = np.exp(z - z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    J = _jsd(P)
    iu = np.triu_indices(len(images), 1)
    rows = []
    for layer in layers:
        for kernel in ROW_KERNELS:
            sem = semantic_rsm(maps[layer], kernel=kernel, center=True, progress=progress)
            spa = spatial_rsm(maps[layer], kernel=kernel, center=True)
            rows.append({"layer": LAYERS.get(layer, str(layer)), "kernel": kernel,
                         "pearson_semantic": float(pearsonr(J[iu], sem.matrix[iu])[0]),
                         "pearson_spatial": float(pearsonr(J[iu], spa.matrix[iu])[0]),
                         "spearman_semantic": float(spearmanr(J[iu], sem.matrix[iu])[0]),
                         "spearman_spatial": float(spearmanr(J[iu], spa.matrix[iu])[0])})
            log(f"{rows[-1]['layer']} {kernel}: Pearson "
                f"{rows[-1]['pearson_spatial']:.3f} -> {rows[-1]['pearson_semantic']:.3f}")
    result = RSMOutputResult(rows, {"n": len(images)}, time.perf_counter() - t0, experiment="rsm-output")
    write_result(result, out, force)
    return result


class RSMApproxResult(TableResult):
    def markdown(self) -> str:
        sizes = [r["S"] for r in self.rows]
        names = list(self.rows[0]["methods"])
        lines = ["| method | " + " | ".join(f"S = {s}: rel. sim. / ms" for s in sizes) + " |",
                 "|---|" + "---|" * len(sizes)]
        for name in names:
            cells = []
            for r in self.rows:
                m = r["methods"][name]
                cells.append("-" if not np.isfinite(m["relative"]) else
                             f"{100 * m['relative']:.2f} % / {1000 * m['seconds']:.2f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append(f"\nRelative similarity = total matched inner product / total optimal one over "
                     f"{self.settings['pairs']} pairs of real EfficientNet-Lite0 maps (CIFAR-10 crops) per S; "
                     "time per pair, one core, affinity product excluded. 'none' is the spatio-semantic identity "
                     "matching.")
        return "\n".join(lines)


def run_rsm_approx(data_dir=None, pairs: int = 6, out=None, force: bool = False, progress: bool = False,
                   log=log_info) -> RSMApproxResult:
    """Approximation quality vs time (module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    enc = get_encoder("efficientnet-lite0")
    _, imgs = _images(data_dir, per_class=3)
    crops = [im[:224, :224] for im in imgs]
    layers = {49: 15, 196: 10, 784: 4, 3136: 2}
    maps = _maps(enc, crops, list(layers.values()), progress)
    rng = np.random.default_rng(0)
    methods = {"optimal (scipy)": ("optimal", None, "scipy"), "optimal (lapjv)": ("optimal", None, "lapjv"),
               "optimal (auto)": ("optimal", None, "auto"),
               "batch-optimal:128": ("batch-optimal", 128, "auto"), "batch-optimal:512": ("batch-optimal", 512, "auto"),
               "topk-greedy:128": ("topk-greedy", 128, "auto"), "greedy": ("greedy", None, "auto"),
               "auction:0.01": ("auction", 0.01, "auto"),
               "none": ("none", None, "auto")}
    rows = []
    for S, layer in layers.items():
        X = as_concept_sets(maps[layer])  # raw activations: the optimum is then a positive scale
        norms = np.linalg.norm(X, axis=2)
        pr = [tuple(rng.choice(len(X), 2, replace=False)) for _ in range(pairs)]
        Ms = [X[i] @ X[j].T for i, j in pr]
        opt = np.array([solve(M, maximize=True, backend="scipy")[1] for M in Ms])
        row = {"S": S, "methods": {}}
        for name, (m, k, backend) in methods.items():
            ts, vals = [], []
            for M, (i, j) in zip(Ms, pr, strict=True):
                s0 = time.perf_counter()
                _, v = approximate(M, norms[i], norms[j], m, k, backend)
                ts.append(time.perf_counter() - s0)
                vals.append(v)
            # ratio of totals: pairs whose optimum is small do not dominate
            row["methods"][name] = {"relative": float(np.sum(vals) / np.sum(opt)), "seconds": float(np.median(ts))}
        rows.append(row)
        log(f"S = {S}: " + ", ".join(
            f"{n} {100 * v['relative']:.1f}%" for n, v in row["methods"].items()))
    for r in rows:  # same columns everywhere
        for name in methods:
            r["methods"].setdefault(name, {"relative": float("nan"), "seconds": float("nan")})
    result = RSMApproxResult(rows, {"pairs": pairs}, time.perf_counter() - t0, experiment="rsm-approx")
    write_result(result, out, force)
    return result
