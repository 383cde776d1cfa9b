"""Blind matching experiments on real data (schnaus2025 §4-5 analogues).

* ``blind-cifar``: CIFAR-10 (N = 10 classes). Vision: the L2-normalised mean embedding of the
  class's images through EfficientNet-Lite0/1/2, recomputed on ``resamples`` random halves of
  the images (class-mean resamplings); language: the class-name prompts averaged, through every
  available packaged text encoder. Matched by QAP under GW, CKA and mutual k-NN (k = 1..8),
  solved exactly (all 10! permutations; Hahn-Grant for more classes). Chance = 10 %.
* ``unsupervised``: k-means on CIFAR-10 image embeddings, centres matched to class names.
* ``blind-xtd``: XTD-10 captions, English through ``minilm`` against another language through a
  multilingual encoder; N = 10..100 captions chosen by subset selection (greedy + swap, GW
  agreement under the known pairs) vs N random captions; matched by QAP.
* ``qap-solvers``: paper Table 1 analogue: FAQ, 2-opt, entropic GW, tabu, multi-start tabu and
  Hahn-Grant on the same instances: objective, bound, time, and the true pairing's objective
  (a solver failure where it is strictly better).
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from .._log import info as log_info
from ..datasets import class_name_embeddings, load_cifar10, load_xtd10
from ..datasets.base import data_root
from ..encoders import encode_cached, get_encoder
from ..io import check_writable
from ..matching import blind_match, class_means, select_subset, unsupervised_classifier
from ..qap import (
    entropic_gw,
    faq_solver,
    hahn_grant,
    matching_problem,
    multistart_tabu,
    tabu_search,
    two_opt,
)
from ..qap.problem import strictly_better
from ._base import TableResult, Units, write_result

__all__ = ["BlindCifarResult", "run_blind_cifar", "UnsupervisedExperimentResult", "run_unsupervised",
           "BlindXTDResult", "run_blind_xtd", "SolverComparisonResult", "run_qap_solvers",
           "available_text_encoders", "noisy_views"]

IMAGE_ENCODERS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
TEXT_ENCODERS = ("minilm", "use-multilingual", "e5-small-multilingual", "minilm-l3", "glove-50d", "mpnet")
MEASURE_SPECS = [("gw", None), ("cka-linear", None)] + [("mutual-knn", k) for k in range(1, 9)]


def _measure_label(measure, k):
    return measure if k is None else f"{measure} k={k}"


def available_text_encoders(names=TEXT_ENCODERS, log=log_info):
    """The text encoders whose packages load here (others are reported and skipped)."""
    out = []
    for name in names:
        try:
            get_encoder(name)
            out.append(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional package is reported, not fatal
            log(f"skipping {name}: {str(exc).splitlines()[0]}")
    return out


def _cifar(data_dir, per_class, text_encoders, log):
    ds = load_cifar10(per_class=per_class, seed=0, data_dir=data_dir)
    texts = {t: class_name_embeddings(get_encoder(t), ds.class_names) for t in available_text_encoders(text_encoders, log)}
    return ds, texts


class BlindCifarResult(TableResult):
    def markdown(self) -> str:
        labels = [_measure_label(m, k) for m, k in MEASURE_SPECS]
        lines = ["| image encoder | text encoder | " + " | ".join(labels) + " |",
                 "|---|---|" + "---|" * len(labels)]
        for r in self.rows:
            lines.append(f"| {r['image_encoder']} | {r['text_encoder']} | " + " | ".join(
                f"{100 * r['measures'][m]['accuracy']:.0f} ± {100 * r['measures'][m]['accuracy_std']:.0f}" for m in labels) + " |")
        mean = {m: np.mean([r["measures"][m]["accuracy"] for r in self.rows]) for m in labels}
        lines.append("| **mean** | | " + " | ".join(f"**{100 * mean[m]:.1f}**" for m in labels) + " |")
        cert = np.mean([r["measures"][m]["certified"] for r in self.rows for m in labels])
        fails = sum(r["measures"][m].get("solver_failures", 0) for r in self.rows for m in labels)
        total = len(self.rows) * len(labels) * self.settings['resamples']
        lines.append(f"\nAccuracy in % (mean ± std over {self.settings['resamples']} class-mean resamplings); "
                     f"chance 10 %. {100 * cert:.0f} % of the {total} matchings are proven optimal "
                     f"({self.settings['solver']}). Solver failures (the true pairing scores strictly better than "
                     f"the matching found): {fails} of {total}"
                     + ("; every wrong match here is the objective's, not the solver's." if fails == 0 else "."))
        return "\n".join(lines)


def run_blind_cifar(data_dir=None, image_encoders=IMAGE_ENCODERS, text_encoders=TEXT_ENCODERS, per_class: int = 100,
                    resamples: int = 5, time_limit: float | None = None, out=None, force: bool = False,
                    progress: bool = False, log=log_info) -> BlindCifarResult:
    """CIFAR-10 small-scale blind matching (see module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    ds, texts = _cifar(data_dir, per_class, text_encoders, log)
    y = ds.labels
    C = len(ds.class_names)
    rows = []
    for img in image_encoders:
        Z = encode_cached(get_encoder(img), ds.items, progress=progress)[0].astype(np.float64)
        means = []
        for r in range(resamples):
            rng = np.random.default_rng(r)
            half = np.concatenate([rng.choice(np.flatnonzero(y == c), max(1, (y == c).sum() // 2), replace=False)
                                   for c in range(C)])
            means.append(class_means(Z[half], y[half], C))
        for txt, T in texts.items():
            row = {"image_encoder": img, "text_encoder": txt, "measures": {}}
            for measure, k in MEASURE_SPECS:
                accs, cert, fails = [], [], 0
                for r, V in enumerate(means):
                    if C <= 10:  # exact: every one of the 10! permutations
                        res = blind_match(V, T, measure, k=k or 3, solver="brute-force", shuffle_seed=r)
                    else:
                        res = blind_match(V, T, measure, k=k or 3, solver="hahn-grant", time_limit=time_limit,
                                          shuffle_seed=r)
                    accs.append(res.accuracy)
                    cert.append(res.qap.optimal)
                    fails += res.solver_failure
                row["measures"][_measure_label(measure, k)] = {"accuracy": float(np.mean(accs)),
                                                           "accuracy_std": float(np.std(accs)),
                                                           "certified": float(np.mean(cert)),
                                                           "solver_failures": int(fails)}
            rows.append(row)
            log(f"{img} vs {txt}: " + ", ".join(
                f"{m} {100 * v['accuracy']:.0f}" for m, v in row["measures"].items() if m in ("gw", "cka-linear", "mutual-knn k=3")))
    result = BlindCifarResult(rows, {"per_class": per_class, "resamples": resamples, "time_limit": time_limit,
                                     "solver": "brute-force (exact)" if C <= 10 else "hahn-grant",
                                     "chance": 1.0 / C}, time.perf_counter() - t0, experiment="blind-cifar")
    write_result(result, out, force)
    return result


class UnsupervisedExperimentResult(TableResult):
    def markdown(self) -> str:
        lines = ["| image encoder | text encoder | accuracy | oracle (Hungarian) accuracy | clusters mapped right "
                 "| solver failures |",
                 "|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['image_encoder']} | {r['text_encoder']} | {100 * r['accuracy']:.1f} ± "
                         f"{100 * r['accuracy_std']:.1f} | {100 * r['oracle_accuracy']:.1f} | "
                         f"{100 * r['matched_clusters']:.0f} % | {r.get('solver_failures', '-')} of "
                         f"{len(self.settings['seeds'])} |")
        lines.append(f"\nCIFAR-10, {self.settings['per_class']} test images per class, measure "
                     f"{self.settings['measure']}, mean ± std over {len(self.settings['seeds'])} k-means seeds; chance 10 %. "
                     "Solver failures: matchings of cluster centres to class names where the oracle's map "
                     "(the true pairing) scores strictly better than the matching found.")
        return "\n".join(lines)


def run_unsupervised(data_dir=None, image_encoders=IMAGE_ENCODERS, text_encoders=TEXT_ENCODERS, per_class: int = 100,
                     measure: str = "gw", seeds=(0, 1, 2), time_limit: float | None = None, out=None, force: bool = False,
                     progress: bool = False, log=log_info) -> UnsupervisedExperimentResult:
    """Unsupervised CIFAR-10 classifier (schnaus2025 §5, see module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    ds, texts = _cifar(data_dir, per_class, text_encoders, log)
    rows = []
    for img in image_encoders:
        Z = encode_cached(get_encoder(img), ds.items, progress=progress)[0].astype(np.float64)
        for txt, T in texts.items():
            runs = [unsupervised_classifier(Z, T, ds.labels, measure=measure, time_limit=time_limit, seed=s)
                    for s in seeds]
            row = {"image_encoder": img, "text_encoder": txt,
                   "accuracy": float(np.mean([r.accuracy for r in runs])),
                   "accuracy_std": float(np.std([r.accuracy for r in runs])),
                   "oracle_accuracy": float(np.mean([r.oracle_accuracy for r in runs])),
                   "matched_clusters": float(np.mean([r.matched_clusters for r in runs])),
                   "solver_failures": int(sum(r.solver_failure for r in runs)),
                   "confusion": np.sum([r.confusion for r in runs], axis=0).tolist()}  # summed over seeds
            rows.append(row)
            log(f"{img} vs {txt}: accuracy {100 * row['accuracy']:.1f} "
                f"(oracle {100 * row['oracle_accuracy']:.1f})")
    result = UnsupervisedExperimentResult(rows, {"per_class": per_class, "measure": measure, "seeds": list(seeds),
                                                 "chance": 0.1, "class_names": list(ds.class_names)},
                                          time.perf_counter() - t0, experiment="unsupervised")
    write_result(result, out, force)
    return result


class BlindXTDResult(TableResult):
    def markdown(self) -> str:
        sizes = self.settings["sizes"]
        lines = ["| side A | side B | subsets | " + " | ".join(f"N={n}" for n in sizes) + " | solver failures |",
                 "|---|---|---|" + "---|" * (len(sizes) + 1)]
        for r in self.rows:
            for kind in ("selected", "random"):
                cells = [f"{100 * r[kind][str(n)]['accuracy']:.0f}" for n in sizes]
                fails = sum(r[kind][str(n)].get("solver_failures", 0) for n in sizes)
                runs = len(sizes) * (1 if kind == "selected" else self.settings["random_draws"])
                lines.append(f"| {r['a']} | {r['b']} | {kind} | " + " | ".join(cells) + f" | {fails} of {runs} |")
        limit = self.settings.get("time_limit")
        lines.append(f"\nMatching accuracy in % (chance 1/N); measure {self.settings['measure']}; 'selected': the N "
                     "captions chosen by subset selection (known pairs used only to choose), 'random': N random "
                     f"captions (mean of {self.settings['random_draws']} draws). Solver: `blind_match`'s default "
                     "(multi-start tabu, then Hahn-Grant rounds where affordable), work budgets"
                     + (f", capped at {limit} s ({self.settings.get('time_capped', 0)} matchings stopped by the cap)"
                        if limit else " only") + ". Solver failures: matchings where "
                     "the true pairing scores strictly better than the one found (a failure of the solver, "
                     "not of GW); where there are none, low accuracy is the objective's.")
        return "\n".join(lines)


def run_blind_xtd(data_dir=None, pairs=(("minilm", "en", "use-multilingual", "de"),
                                        ("minilm", "en", "e5-small-multilingual", "de"),
                                        ("use-multilingual", "en", "e5-small-multilingual", "fr")),
                  sizes=(10, 20, 30, 50, 100), measure: str = "gw", random_draws: int = 3,
                  time_limit: float | None = None, out=None, force: bool = False, progress: bool = False,
                  log=log_info) -> BlindXTDResult:
    """XTD-10 caption blind matching for subset sizes (see module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    rows = []

    def embed(model, lang):
        return encode_cached(get_encoder(model), load_xtd10(lang, data_dir).items, progress=progress)[0].astype(float)

    capped = [0]  # matchings the optional time cap stopped (stated, never silent)

    def solve(X, Y, seed):
        res = blind_match(X, Y, measure, time_limit=time_limit, shuffle_seed=seed)
        capped[0] += res.qap.stopped_by == "time"
        return res.accuracy, res.solver_failure, res.qap.objective, res.true_objective

    for ma, la, mb, lb in pairs:
        X, Y = embed(ma, la), embed(mb, lb)
        row = {"a": f"{ma}/{la}", "b": f"{mb}/{lb}", "selected": {}, "random": {}}
        for n in sizes:
            sub = select_subset(X, Y, n, measure, method="greedy")
            acc, fail, found, truth = solve(X[sub.indices], Y[sub.indices], 0)
            row["selected"][str(n)] = {"accuracy": acc, "indices": sub.indices.tolist(), "solver_failures": int(fail),
                                       "objective": found, "true_objective": truth}
            runs = []
            for d in range(random_draws):
                idx = np.sort(np.random.default_rng(d).choice(len(X), n, replace=False))
                runs.append(solve(X[idx], Y[idx], d))
            accs = [r[0] for r in runs]
            row["random"][str(n)] = {"accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
                                     "solver_failures": int(sum(r[1] for r in runs)),
                                     "objective": [r[2] for r in runs], "true_objective": [r[3] for r in runs]}
            log(f"{ma}/{la} vs {mb}/{lb} N={n}: selected "
                f"{100 * row['selected'][str(n)]['accuracy']:.0f} %, random {100 * row['random'][str(n)]['accuracy']:.0f} %")
        rows.append(row)
    result = BlindXTDResult(rows, {"sizes": list(sizes), "measure": measure, "random_draws": random_draws,
                                   "time_limit": time_limit, "solver": "hahn-grant (blind_match default)",
                                   "time_capped": capped[0]},
                            time.perf_counter() - t0, experiment="blind-xtd")
    write_result(result, out, force)
    return result


class SolverComparisonResult(TableResult):
    def markdown(self) -> str:
        solvers = self.settings["solvers"]
        lines = ["| instance | n | true pairing | " + " | ".join(f"{s} objective (s)" for s in solvers)
                 + " | Hahn-Grant bound | proved optimal |",
                 "|---|---|---|" + "---|" * (len(solvers) + 2)]
        fails = dict.fromkeys(solvers, 0)
        for r in self.rows:
            truth = r.get("true_objective")
            cells = []
            for s in solvers:
                failed = truth is not None and r[s].get("solver_failure", False)
                fails[s] += failed
                cells.append(f"{r[s]['objective']:.6g}{' ✗' if failed else ''} ({r[s]['seconds']:.2f})")
            hg = r["hahn-grant"]
            bound = "none" if hg["bound"] is None else f"{hg['bound']:.6g}"
            lines.append(f"| {r['instance']} | {r['n']} | {'-' if truth is None else f'{truth:.6g}'} | "
                         + " | ".join(cells) + f" | {bound} | {'yes' if hg['optimal'] else 'no'} |")
        lines.append("| **solver failures** | | | " + " | ".join(f"{fails[s]} of {len(self.rows)}" for s in solvers)
                     + " | | |")
        limit = self.settings.get("time_limit")
        lines.append("\nMinimisation (GW: smaller is better). ✗: a solver failure, the true pairing (rows in their "
                     "given order) scores strictly better than the matching found. Work budgets: FAQ 10 restarts; "
                     "tabu one run as long as multistart's whole budget (64 runs; multistart stops earlier once "
                     "its best repeats); Hahn-Grant its default (multi-start warm start, then dual rounds)" + (f"; capped at {limit} s." if limit else "; no time cap."))
        return "\n".join(lines)


def noisy_views(n, noise, seed, dl=16):
    """Two views of one (n, dl) Gaussian latent: isometric maps into 64 and 48 dimensions plus
    noise of total variance 8·noise² (64-d side); the vision-language-like QAP instances."""
    rng = np.random.default_rng(seed)
    lat = rng.normal(size=(n, dl))
    Q1 = np.linalg.qr(rng.normal(size=(64, dl)))[0].T
    Q2 = np.linalg.qr(rng.normal(size=(48, dl)))[0].T
    return (lat @ Q1 + noise * rng.normal(size=(n, 64)) / np.sqrt(8),
            lat @ Q2 + noise * rng.normal(size=(n, 48)) / np.sqrt(8))


SOLVER_RUNS = ("faq", "2opt", "entropic-gw", "tabu", "multistart", "hahn-grant")


def _solver_unit(time_limit, data, name) -> dict:
    """Every solver on one instance (a checkpointed unit); rows of X and Y are in true order, so
    the identity is the true pairing."""
    X, Y = data[name]
    p = matching_problem(X, Y, "gw")
    truth = p.objective(np.arange(p.n))
    runs = {"faq": lambda: faq_solver(p, restarts=10), "2opt": lambda: two_opt(p, faq_solver(p).permutation),
            "entropic-gw": lambda: entropic_gw(p), "tabu": lambda: tabu_search(p, time_limit=time_limit),
            "multistart": lambda: multistart_tabu(p, time_limit=time_limit),
            "hahn-grant": lambda: hahn_grant(p, time_limit=time_limit)}
    row = {"instance": name.rsplit(" n=", 1)[0], "n": p.n, "true_objective": truth}
    for sname in SOLVER_RUNS:
        res = runs[sname]()
        row[sname] = {"objective": res.objective, "seconds": res.seconds, "bound": res.bound,
                      "optimal": res.optimal, "accuracy": float(np.mean(res.permutation == np.arange(p.n))),
                      "stopped_by": res.stopped_by,
                      "solver_failure": strictly_better(truth, res.objective, p.maximize)}
    return row


def run_qap_solvers(data_dir=None, time_limit: float | None = None, synthetic=((20, 0.6), (30, 0.6), (40, 0.6), (20, 1.0)),
                    real: bool = True, out=None, force: bool = False, progress: bool = False,
                    log=log_info, scheduler=None) -> SolverComparisonResult:
    """Every solver on the same GW matching instances (paper Table 1 analogue): two noisy
    views of a latent for each ``(n, noise)`` in ``synthetic``, and with ``real`` (and data)
    CIFAR-10 class means and XTD-10 caption subsets. Each instance is a checkpointed unit
    (resumable), a Dask task with ``scheduler``."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    instances = []
    for n, noise in synthetic:
        X, Y = noisy_views(n, noise, seed=n)
        instances.append((f"two noisy views (noise {noise})", X, Y))
    if real and (data_dir is not None or _has_data()):
        ds = load_cifar10(per_class=100, seed=0, data_dir=data_dir)
        Z = encode_cached(get_encoder("efficientnet-lite0"), ds.items, progress=progress)[0].astype(float)
        T = class_name_embeddings(get_encoder("minilm"), ds.class_names)
        instances.append(("CIFAR-10 class means: effnet-lite0 vs minilm", class_means(Z, ds.labels), T))
        Xe = encode_cached(get_encoder("minilm"), load_xtd10("en", data_dir).items)[0].astype(float)
        Yd = encode_cached(get_encoder("use-multilingual"), load_xtd10("de", data_dir).items)[0].astype(float)
        for n in (20, 40):
            sub = select_subset(Xe, Yd, n, "gw", method="greedy").indices
            instances.append((f"XTD-10 en/minilm vs de/USE, {n} selected captions", Xe[sub], Yd[sub]))
    data = {f"{name} n={len(X)}": (X, Y) for name, X, Y in instances}
    settings = {"solvers": list(SOLVER_RUNS), "time_limit": time_limit, "measure": "gw"}
    units = Units(out, {"experiment": "qap-solvers", **settings, "instances": list(data)}, force=force, log=log)

    def logged(name):
        row = _solver_unit(time_limit, data, name)
        log(f"{name}: " + ", ".join(
            f"{s} {v['objective']:.5g}" for s, v in row.items() if isinstance(v, dict))
            + f"; true pairing {row['true_objective']:.5g}")
        return row

    rows = units.run(list(data), logged if scheduler is None else partial(_solver_unit, time_limit, data),
                     scheduler=scheduler)
    result = SolverComparisonResult(rows, settings, time.perf_counter() - t0, experiment="qap-solvers")
    write_result(result, out, force)
    return result


def _has_data():
    try:
        data_root(None)
        return True
    except Exception:  # noqa: BLE001
        return False


