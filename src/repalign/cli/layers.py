"""``repalign layers A [B]``: CKA of every layer of one model with every layer of another."""

from __future__ import annotations

from .._layerwise import layerwise
from ..datasets import load_dataset
from ..items import list_images, read_text_items
from ..plotting import layer_diagonal, layer_heatmap, save_figure
from .common import check_out_folder, print_json, write_json
from .errors import CLIError

__all__ = ["run", "LAYER_OUTPUTS"]

LAYER_OUTPUTS = ("layers.json", "layers.png", "diagonal.png")


def run(args) -> int:
    if sum(bool(x) for x in (args.texts, args.images, args.dataset)) != 1:
        raise CLIError("layers: give exactly one of --dataset NAME, --texts FILE or --images DIR")
    out = check_out_folder(args.out, LAYER_OUTPUTS, args.force)
    if args.texts:
        items = read_text_items(args.texts, args.limit)
    elif args.images:
        items = list_images(args.images, args.limit)
    else:
        items = load_dataset(args.dataset, data_dir=args.data_dir, limit=args.limit, per_class=args.per_class).items
    res = layerwise(args.model_a, args.model_b, items, layers_a=args.layers_a, layers_b=args.layers_b,
                    estimator=args.estimator, pooling=args.pooling, batch_size=args.batch_size, seed=args.seed,
                    progress=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "layers.json", res.to_dict(), args.force)
        save_figure(layer_heatmap(res), out / "layers.png", force=args.force, dpi=130)
        if min(res.matrix.shape) > 1:
            save_figure(layer_diagonal({f"{res.model_a} vs {res.model_b}": res}), out / "diagonal.png", force=args.force)
    if args.json:
        print_json(res.to_dict())
    else:
        print(f"{res.model_a} ({len(res.layers_a)} layers) vs {res.model_b} ({len(res.layers_b)} layers), n = {res.n}, "
              f"{res.estimator}: mean CKA {res.matrix.mean():.3f}, diagonal {', '.join(f'{v:.2f}' for v in res.diagonal())}"
              + (f"; wrote {out}/" if out is not None else ""))
    return 0
