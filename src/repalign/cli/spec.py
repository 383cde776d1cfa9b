"""``repalign spec A B``: where two embeddings of the same items cluster them differently (SPEC)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validate import warn
from ..distributed import as_dask_array
from ..io import atomic_write, safe_load_message
from ..items import list_images, read_text_items
from ..plotting import caption_lists, gallery, mode_map, save_figure, spectrum
from ..spectral import spec
from .common import check_out_folder, print_json, read_table_args, write_json
from .errors import CLIError

__all__ = ["run", "SPEC_OUTPUTS"]

SPEC_OUTPUTS = ("spec.json", "spectrum.png", "modes.md", "map.png", "gallery_A.png", "gallery_B.png")


def _item_list(args, n: int):
    """The items behind the rows (texts or image paths) for galleries, checked against n."""
    if args.texts:
        items = read_text_items(args.texts)
        what = f"{args.texts} has {len(items)} lines"
    elif args.images:
        items = list_images(args.images)
        what = f"{args.images} has {len(items)} images"
    else:
        return None
    if len(items) != n:
        raise CLIError(f"{what} but the embeddings have {n} rows; give the items in the order of the rows "
                       "(images sorted by path, as `repalign embed --images` reads them)")
    return items


def _streamed(path) -> bool:
    """Inputs SPEC streams instead of reading whole: .npy (memory-mapped), zarr stores, folders of
    parquet files (through Dask)."""
    return str(path).endswith((".npy", ".zarr")) or Path(path).is_dir()


def _source(path, args):
    return str(path) if _streamed(path) else read_table_args(path, args).array


def _rows(src):
    """An array-like of the rows (lazy for streamed inputs), for their count and the map."""
    if not isinstance(src, str):
        return src
    if not src.endswith(".npy"):
        return as_dask_array(src, src)
    try:
        return np.load(src, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # numpy's own message advises loading pickles
        raise CLIError(safe_load_message(Path(src), exc)) from None


def _floor_note(res) -> str:
    if res.rff_floor is None:
        return ""
    return (f" Random-feature floor {res.rff_floor:.4f}: eigenvalues smaller in magnitude are within what two draws "
            f"of {res.rff} frequencies give on their own.")


def _ends_note(res) -> str:
    return "" if res.complete else ", the spectrum's ends only (--spectrum full computes the middle)"


def run(args) -> int:
    if args.texts and args.images:
        raise CLIError("spec: give at most one of --texts FILE and --images DIR")
    out = check_out_folder(args.out, SPEC_OUTPUTS, args.force)
    A, B = _source(args.a, args), _source(args.b, args)
    n = _rows(A).shape[0]
    items = _item_list(args, n)
    res = spec(A, B, args.kernel, eta=args.eta, rff=args.rff, sigma_a=args.sigma_a, sigma_b=args.sigma_b,
               n_modes=args.modes, top=args.top, route=args.route, seed=args.seed, progress=True,
               scheduler=args.scheduler, spectrum=args.spectrum)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "spec.json", res.to_dict(), args.force)
        save_figure(spectrum(res), out / "spectrum.png", force=args.force)
        lines = [f"# SPEC: {args.a} (A) vs {args.b} (B)", "",
                 f"{res.kernel} kernel, η = {res.eta:g}, n = {res.n}, SPEC-diff {res.spec_diff:.4f}, "
                 f"Frobenius {res.frobenius:.4f}, route {res.route}{_ends_note(res)}." + _floor_note(res), ""]
        if items is not None and args.texts:
            lines.append(caption_lists(res, items, per_mode=args.top))
        elif items is not None:
            for side in ("A", "B"):
                if any(m.side == side for m in res.modes):
                    fig = gallery(res, items, side=side, per_mode=min(args.top, 10))
                    save_figure(fig, out / f"gallery_{side}.png", force=args.force, dpi=120)
                    lines.append(f"![modes {side} separates](gallery_{side}.png)")
        else:
            lines.append(caption_lists(res, [f"row {i}" for i in range(res.n)], per_mode=args.top))
        with atomic_write(out / "modes.md", force=args.force) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if args.map:
            Xa, Xb = np.asarray(_rows(A)), np.asarray(_rows(B))
            save_figure(mode_map(res, Xa, Xb, seed=args.seed), out / "map.png", force=args.force)
    if args.scheduler and res.route == "direct":
        warn(f"--scheduler: n = {res.n} took the direct route (one n x n eigenproblem), which runs here")
    if args.json:
        print_json(res.to_dict())
    else:
        print(f"n = {res.n}, {res.kernel} kernel, η = {res.eta:g}: SPEC-diff {res.spec_diff:.4f}, "
              f"Frobenius {res.frobenius:.4f} ({res.route} route{_ends_note(res)}, {res.seconds:.1f} s)"
              + _floor_note(res))
        for k, m in enumerate(res.modes):
            below = " (below the random-feature floor)" if res.rff_floor and abs(m.eigenvalue) < res.rff_floor else ""
            print(f"mode {k + 1:>2} ({m.side}): λ = {m.eigenvalue:+.4f}  top items "
                  f"{', '.join(map(str, m.top_indices[:8]))}{below}")
            if m.two_ended:
                print(f"         other end: {', '.join(map(str, m.other_indices[:8]))}")
        if out is not None:
            print(f"wrote {out}/")
    return 0
