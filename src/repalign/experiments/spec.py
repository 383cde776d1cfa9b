"""SPEC experiments on real data (jalali2025 §6 analogues).

* ``spec-cifar``: CIFAR-10 test images (100 per class) through EfficientNet-Lite0 against
  Lite2 and against raw pixels. For each pair, the SPEC modes of both sides, their class make-up
  (majority class and purity of the top items), AMI/NMI of the mode labels against k-means on
  each embedding (averaged over 50 runs, as the paper), SPEC-diff; image galleries per side.
* ``spec-xtd``: XTD-10 English captions through ``minilm`` against ``use-multilingual`` and
  against ``glove-50d`` (averaged word vectors): the captions of the top modes of each side.
* ``spec-planted``: a group tight in A and scattered in B (and one the other way round) among
  noise, over seeds: how often SPEC's first mode of each side recovers it.
* ``spec-align`` (in :mod:`.spec_align`, the one experiment that needs torch).

Kernel: the Gaussian kernel through random Fourier features (the paper's choice), bandwidth by
the median rule per embedding (``repalign.spectral.features``), 2,000 frequencies per side.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np

from .._log import info as log_info
from ..datasets import load_cifar10, load_xtd10
from ..encoders import encode_cached, get_encoder
from ..encoders.images import load_rgb
from ..io import atomic_write, check_writable
from ..kernels import median_sigma
from ..plotting import caption_lists, gallery, save_figure, spectrum, thumbnail_strip
from ..spectral import mode_agreement, spec
from ._base import TableResult, Units, write_result

__all__ = ["SpecCifarResult", "run_spec_cifar", "SpecXTDResult", "run_spec_xtd", "SpecPlantedResult",
           "run_spec_planted", "planted_views"]

RFF = 2000


def _mode_rows(res, labels=None, class_names=None):
    """Per mode: eigenvalue, side, top items, and (with labels) majority class and purity."""
    rows = []
    for m in res.modes:
        row = {"eigenvalue": m.eigenvalue, "side": m.side, "top_indices": [int(i) for i in m.top_indices]}
        if labels is not None:
            cls = labels[m.top_indices]
            maj = int(np.bincount(cls).argmax())
            row.update({"majority_class": class_names[maj] if class_names else maj,
                        "purity": float(np.mean(cls == maj))})
        if m.two_ended:  # a second group at the other end of the eigenvector
            row["other_indices"] = [int(i) for i in m.other_indices]
            if labels is not None:
                cls = labels[m.other_indices]
                maj = int(np.bincount(cls).argmax())
                row.update({"other_majority_class": class_names[maj] if class_names else maj,
                            "other_purity": float(np.mean(cls == maj))})
        rows.append(row)
    return rows


def _kernel_note(rows, settings) -> str:
    """How the Gaussian kernel was computed, from the rows (older files: from the settings)."""
    rffs = {r.get("rff", settings.get("rff")) for r in rows}
    if rffs == {None}:
        return "Gaussian kernel, computed exactly (n is below the number of random features)"
    floors = [r["rff_floor"] for r in rows if r.get("rff_floor") is not None]
    floor = f", random-feature floor up to {max(floors):.4f}" if floors else ""
    return f"Gaussian kernel, {settings.get('rff')} random Fourier frequencies per side{floor}"


def _with_other(_, m) -> str:
    if "other_majority_class" in m:
        return f"{m['majority_class']} {100 * m['purity']:.0f} % | {m['other_majority_class']} " \
               f"{100 * m['other_purity']:.0f} %"
    return f"{m['majority_class']} {100 * m['purity']:.0f} %"


def _agreement(res, A, B, n_runs):
    out = {}
    for side in ("A", "B"):
        try:
            out[side] = mode_agreement(res, A, B, side=side, n_runs=n_runs)
        except ValueError as exc:  # fewer than two modes on that side
            out[side] = {"skipped": str(exc)}
    return out


def _ami(a: dict) -> str:
    return "-" if "skipped" in a else f"{a['ami_a']:.2f} / {a['ami_b']:.2f}"


class SpecCifarResult(TableResult):
    def markdown(self) -> str:
        lines = ["| A | B | SPEC-diff | top λ (A side) | top λ (B side) | AMI on A / B, A-side modes | "
                 "AMI on A / B, B-side modes |", "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            pos = [m["eigenvalue"] for m in r["modes"] if m["side"] == "A"][:3]
            neg = [m["eigenvalue"] for m in r["modes"] if m["side"] == "B"][:3]
            lines.append(f"| {r['a']} | {r['b']} | {r['spec_diff']:.4f} | {', '.join(f'{x:.4f}' for x in pos)} | "
                         f"{', '.join(f'{x:.4f}' for x in neg)} | {_ami(r['agreement']['A'])} | "
                         f"{_ami(r['agreement']['B'])} |")
        lines.append("")
        lines.append("Top modes (majority class of the top items, purity):")
        lines.append("")
        for r in self.rows:
            for side in ("A", "B"):
                ms = [m for m in r["modes"] if m["side"] == side][:4]
                desc = "; ".join(_with_other(None, m) for m in ms)
                who = r["a"] if side == "A" else r["b"]
                lines.append(f"- {who} separates, {r['b'] if side == 'A' else r['a']} does not: {desc}")
        lines.append(f"\nCIFAR-10 test, {self.settings['per_class']} images per class; "
                     f"{_kernel_note(self.rows, self.settings)}, median-rule bandwidths; "
                     f"top {self.settings['top']} items per mode (a | marks a mode's second group at the other end "
                     f"of its eigenvector); AMI averaged over {self.settings['n_runs']} k-means runs on each "
                     "embedding.")
        return "\n".join(lines)


def _pixels(images) -> np.ndarray:
    return np.stack([np.asarray(load_rgb(p), dtype=np.float64).ravel() / 255.0 for p in images])


def run_spec_cifar(data_dir=None, per_class: int = 100, pairs=(("efficientnet-lite0", "efficientnet-lite2"),
                   ("efficientnet-lite0", "pixels")), top: int = 10, n_modes: int = 5, n_runs: int = 50, seed: int = 0,
                   out=None, force: bool = False, progress: bool = False, log=log_info) -> SpecCifarResult:
    """SPEC between image encoders (and raw pixels) on CIFAR-10 (module docstring); galleries
    are written beside ``out`` as ``spec-cifar_<A>_vs_<B>_<side>.png``."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    ds = load_cifar10(per_class=per_class, seed=0, data_dir=data_dir)
    emb = {}

    def get(name):
        if name not in emb:
            emb[name] = _pixels(ds.items) if name == "pixels" else \
                encode_cached(get_encoder(name), ds.items, progress=progress)[0].astype(np.float64)
        return emb[name]

    rows = []
    for a, b in pairs:
        A, B = get(a), get(b)
        res = spec(A, B, "gaussian", rff=RFF, n_modes=n_modes, top=top, seed=seed, progress=progress)
        row = {"a": a, "b": b, "spec_diff": res.spec_diff, "frobenius": res.frobenius, "sigma_a": res.sigma_a,
               "sigma_b": res.sigma_b, "rff": res.rff, "rff_floor": res.rff_floor,
               "modes": _mode_rows(res, ds.labels, ds.class_names),
               "agreement": _agreement(res, A, B, n_runs)}
        rows.append(row)
        if out:
            stem = Path(out).with_suffix("")
            for side in ("A", "B"):
                if any(m.side == side for m in res.modes):
                    save_figure(gallery(res, ds.items, side=side), f"{stem}_{a}_vs_{b}_{side}.png", force=True,
                                dpi=120)
                    strongest = next(m for m in res.modes if m.side == side)  # modes come strongest first
                    with atomic_write(f"{stem}_{a}_vs_{b}_{side}_top.png", force=True) as tmp:
                        tmp.write_bytes(thumbnail_strip(ds.items, strongest.top_indices[:6]))
            save_figure(spectrum(res), f"{stem}_{a}_vs_{b}_spectrum.png", force=True)
        log(f"{a} vs {b}: SPEC-diff {res.spec_diff:.4f}, modes "
            + ", ".join(f"{m['side']}:{m['majority_class']} {100 * m['purity']:.0f}%" for m in row["modes"][:4]))
    result = SpecCifarResult(rows, {"per_class": per_class, "rff": RFF, "top": top, "n_modes": n_modes,
                                    "n_runs": n_runs, "seed": seed}, time.perf_counter() - t0, experiment="spec-cifar")
    write_result(result, out, force)
    return result


class SpecXTDResult(TableResult):
    def markdown(self) -> str:
        lines = ["| A | B | SPEC-diff | Frobenius | top λ (A side) | top λ (B side) |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            pos = [m["eigenvalue"] for m in r["modes"] if m["side"] == "A"][:3]
            neg = [m["eigenvalue"] for m in r["modes"] if m["side"] == "B"][:3]
            lines.append(f"| {r['a']} | {r['b']} | {r['spec_diff']:.4f} | {r['frobenius']:.4f} | "
                         f"{', '.join(f'{x:.4f}' for x in pos)} | {', '.join(f'{x:.4f}' for x in neg)} |")
        for r in self.rows:
            for side in ("A", "B"):
                m = next((m for m in r["modes"] if m["side"] == side), None)
                if m is None:
                    continue
                who, other = (r["a"], r["b"]) if side == "A" else (r["b"], r["a"])
                lines.append(f"\nFirst mode {who} groups and {other} does not (λ = {m['eigenvalue']:+.4f}):\n")
                lines += [f"- {c}" for c in m["captions"][: self.settings["show"]]]
                if m.get("other_captions"):
                    lines.append("\nIts other end, a second group as strong:\n")
                    lines += [f"- {c}" for c in m["other_captions"][: self.settings["show"]]]
        lines.append(f"\n{_kernel_note(self.rows, self.settings)}; median-rule bandwidths.")
        return "\n".join(lines)


def run_spec_xtd(data_dir=None, pairs=(("minilm", "use-multilingual"), ("minilm", "glove-50d")), top: int = 10,
                 n_modes: int = 5, show: int = 6, seed: int = 0, out=None, force: bool = False, progress: bool = False,
                 log=log_info) -> SpecXTDResult:
    """SPEC between text encoders on the 1,000 English XTD-10 captions (module docstring); the
    captions of every mode go to ``<out>_<A>_vs_<B>.md``."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    texts = load_xtd10("en", data_dir).items
    emb = {}
    rows = []
    for a, b in pairs:
        for name in (a, b):
            if name not in emb:
                emb[name] = encode_cached(get_encoder(name), texts, progress=progress)[0].astype(np.float64)
        res = spec(emb[a], emb[b], "gaussian", rff=RFF, n_modes=n_modes, top=top, seed=seed, progress=progress)
        modes = _mode_rows(res)
        for m in modes:
            m["captions"] = [texts[i] for i in m["top_indices"]]
            if "other_indices" in m:
                m["other_captions"] = [texts[i] for i in m["other_indices"]]
        rows.append({"a": a, "b": b, "spec_diff": res.spec_diff, "frobenius": res.frobenius, "rff": res.rff,
                     "rff_floor": res.rff_floor, "modes": modes})
        if out:
            with atomic_write(f"{Path(out).with_suffix('')}_{a}_vs_{b}.md", force=True) as tmp:
                tmp.write_text(f"# SPEC modes: {a} (A) vs {b} (B), XTD-10 English\n\n" + caption_lists(res, texts),
                               encoding="utf-8")
        log(f"{a} vs {b}: SPEC-diff {res.spec_diff:.4f}")
    result = SpecXTDResult(rows, {"rff": RFF, "top": top, "n_modes": n_modes, "show": show, "seed": seed},
                           time.perf_counter() - t0, experiment="spec-xtd")
    write_result(result, out, force)
    return result


def planted_views(n: int = 2000, size: int = 60, dim_a: int = 32, dim_b: int = 24, spread: float = 0.25,
                  seed: int = 0):
    """Two embeddings of n items: items [0, size) form a tight group in A and are spread like the
    background in B; items [size, 2·size) the reverse. Background: isotropic Gaussian."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, dim_a))
    B = rng.normal(size=(n, dim_b))
    A[:size] = rng.normal(size=dim_a) * 2 + spread * rng.normal(size=(size, dim_a))
    B[size:2 * size] = rng.normal(size=dim_b) * 2 + spread * rng.normal(size=(size, dim_b))
    return A, B


class SpecPlantedResult(TableResult):
    def markdown(self) -> str:
        lines = ["| kernel | group | recovered by the first mode of its side (mean precision of the top items) | "
                 "seeds recovered (precision >= 90 %) |", "|---|---|---|---|"]
        for r in self.rows:
            kern = r["kernel"] if r["kernel"] != "gaussian" else f"gaussian, σ = {r['factor']:g} × median rule"
            for side, label in (("A", "tight in A, spread in B"), ("B", "tight in B, spread in A")):
                p = r[f"precision_{side}"]
                lines.append(f"| {kern} | {label} | {100 * np.mean(p):.1f} % | "
                             f"{sum(x >= 0.9 for x in p)} / {len(p)} |")
        s = self.settings
        lines.append(f"\nn = {s['n']} items, groups of {s['size']}, {len(s['seeds'])} seeds; top {s['size']} items of "
                     "the mode compared with the planted group.")
        return "\n".join(lines)


_PLANTED = (("cosine", None), ("gaussian", 1.0), ("gaussian", 0.35))


def _planted_unit(n: int, size: int, name: str) -> dict:
    """One (kernel, bandwidth factor, seed) unit of the planted check: precision per side."""
    kernel, factor, seed = name.split("|")
    s = int(seed)
    A, B = planted_views(n, size, seed=s)
    kw = {}
    if kernel == "gaussian":
        f = float(factor)
        kw = {"rff": RFF, "sigma_a": f * median_sigma(A, seed=s), "sigma_b": f * median_sigma(B, seed=s)}
    res = spec(A, B, kernel, top=size, n_modes=1, seed=s, return_scores=False, **kw)
    out = {}
    for side, group in (("A", range(0, size)), ("B", range(size, 2 * size))):
        m = next(m for m in res.modes if m.side == side)
        out[side] = float(np.isin(m.top_indices, list(group)).mean())
    return out


def run_spec_planted(n: int = 2000, size: int = 60, seeds=tuple(range(10)), out=None, force: bool = False,
                     progress: bool = False, log=log_info, scheduler=None) -> SpecPlantedResult:
    """The planted-group check (module docstring); resumable per (kernel, seed) unit and runnable
    on a Dask cluster (``scheduler``)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    settings = {"n": n, "size": size, "seeds": list(seeds)}
    units = Units(out, {"experiment": "spec-planted", **settings}, force=force, log=log)
    names = [f"{k}|{f}|{s}" for k, f in _PLANTED for s in seeds]
    values = dict(zip(names, units.run(names, partial(_planted_unit, n, size), scheduler=scheduler), strict=True))
    rows = []
    for kernel, factor in _PLANTED:
        prec = {side: [values[f"{kernel}|{factor}|{s}"][side] for s in seeds] for side in ("A", "B")}
        rows.append({"kernel": kernel, "factor": factor, "precision_A": prec["A"], "precision_B": prec["B"]})
        log(f"{kernel}: A {np.mean(prec['A']):.3f}, B {np.mean(prec['B']):.3f}")
    result = SpecPlantedResult(rows, settings, time.perf_counter() - t0, experiment="spec-planted")
    write_result(result, out, force)
    return result
