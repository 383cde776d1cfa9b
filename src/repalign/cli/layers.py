"""``repalign layers A [B]``: CKA of every layer of one model with every layer of another."""

from __future__ import annotations

from .._layerwise import layerwise
from ..datasets import load_dataset
from ..encoders import ENCODERS
from ..items import list_images, read_text_items
from ..plotting import layer_best_match, layer_diagonal, layer_heatmap, save_figure
from .common import check_out_folder, print_json, write_json
from .errors import CLIError

__all__ = ["run", "LAYER_OUTPUTS"]

LAYER_OUTPUTS = ("layers.json", "layers.png", "diagonal.png", "best_match.png")


def run(args) -> int:
    if sum(bool(x) for x in (args.texts, args.images, args.dataset)) != 1:
        raise CLIError("layers: give exactly one of --dataset NAME, --texts FILE or --images DIR")
    out = check_out_folder(args.out, LAYER_OUTPUTS, args.force)
    for model in (args.model_a, args.model_b):  # before loading anything: a text model cannot see images
        info = ENCODERS.get(model, (None,))[0] if model else None
        if info is not None and info.modality == "text" and args.images:
            raise CLIError(f"--images: model {model!r} is a text encoder; it would embed the file names as text")
        if info is not None and info.modality == "image" and args.texts:
            raise CLIError(f"--texts: model {model!r} is an image model; it cannot take texts")
    if args.texts:
        items = read_text_items(args.texts, args.limit)
    elif args.images:
        items = list_images(args.images, args.limit)
    else:
        items = load_dataset(args.dataset, data_dir=args.data_dir, limit=args.limit, per_class=args.per_class).items
    res = layerwise(args.model_a, args.model_b, items, layers_a=args.layers_a, layers_b=args.layers_b,
                    estimator=args.estimator, pooling=args.pooling, batch_size=args.batch_size, seed=args.seed,
                    device=args.device, progress=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "layers.json", res.to_dict(), args.force)
        save_figure(layer_heatmap(res), out / "layers.png", force=args.force, dpi=130)
        if res.square and res.matrix.shape[0] > 1:
            save_figure(layer_diagonal({f"{res.model_a} vs {res.model_b}": res}), out / "diagonal.png", force=args.force)
        elif not res.square:  # layer i of A is not layer i of B: show each layer's best match instead
            save_figure(layer_best_match(res), out / "best_match.png", force=args.force)
    if args.json:
        print_json(res.to_dict())
    else:
        if res.square:
            shape = f"diagonal {', '.join(f'{v:.2f}' for v in res.diagonal())}"
        else:
            idx, vals = res.best_match()
            shape = "best match of each A layer: " + ", ".join(f"{a}→{res.layers_b[j]} {v:.2f}" for a, j, v in
                                                              zip(res.layers_a, idx, vals, strict=True))
        print(f"{res.model_a} ({len(res.layers_a)} layers) vs {res.model_b} ({len(res.layers_b)} layers), n = {res.n}, "
              f"{res.estimator}: mean CKA {res.matrix.mean():.3f}, {shape}" + (f"; wrote {out}/" if out is not None else ""))
    return 0
