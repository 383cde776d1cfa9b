"""``repalign embed``: embed texts, images or a dataset with an encoder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import _progress
from .._formats import FORMATS
from ..datasets import load_dataset
from ..encoders import ENCODERS, encode_cached, get_encoder, stack_feature_maps
from ..io import atomic_write, check_writable, save_embeddings
from ..items import list_images, read_text_items
from .common import check_out, write_json
from .errors import CLIError

__all__ = ["run"]


def run(args) -> int:
    sources = [s for s in (args.texts, args.images, args.dataset) if s]
    if len(sources) != 1:
        raise CLIError("embed: give exactly one of --texts FILE, --images DIR or --dataset NAME")
    check_out(args.out, FORMATS, args.force)
    check_writable(str(args.out) + ".json", args.force)
    meta = {}
    if args.texts:
        items = read_text_items(args.texts, args.limit)
        meta["dataset"] = str(args.texts)
    elif args.images:
        items = list_images(args.images, args.limit)
        meta["dataset"] = str(args.images)
        meta["files"] = [os.path.relpath(f, args.images) for f in items]
    else:
        ds = load_dataset(args.dataset, data_dir=args.data_dir, per_class=args.per_class, limit=args.limit)
        items = ds.items
        meta["dataset"] = args.dataset
        if getattr(ds, "labels", None) is not None:
            meta["labels"] = [int(v) for v in ds.labels]
    if args.limit:
        meta["limit"] = args.limit
    if args.model in ENCODERS:  # check the modality and the layer before loading the model
        info = ENCODERS[args.model][0]
        _check_modality(args, info.modality, items)
        if args.feature_maps is not None:
            _check_layer(args, info.extra.get("blocks"))
    kwargs = {"n_jobs": args.jobs} if args.jobs else {}
    if args.device is not None:
        kwargs["device"] = args.device
    with _progress.step(f"loading {args.model}", enabled=True):
        enc = get_encoder(args.model, **kwargs)
    _check_modality(args, enc.modality, items)
    if args.feature_maps is not None:
        return _embed_maps(args, enc, items, meta)
    arr, hit = encode_cached(enc, items, batch_size=args.batch_size, progress=True, use_cache=not args.no_cache)
    meta.update({"model": args.model, "preprocessing": enc.preprocessing(), "from_cache": hit})
    save_embeddings(args.out, arr, metadata=meta, force=args.force)
    print(f"wrote {args.out}: {arr.shape[0]} x {arr.shape[1]} ({args.model}{', from cache' if hit else ''})")
    return 0


def _embed_maps(args, enc, items, meta) -> int:
    if not hasattr(enc, "feature_maps"):
        raise CLIError(f"--feature-maps: model {args.model!r} has no spatial maps; use an efficientnet-lite model")
    if Path(args.out).suffix.lower() != ".npy":
        raise CLIError("--feature-maps: the maps are 4-D; write them to a .npy file")
    layer = args.feature_maps
    layer = int(layer) if layer.lstrip("-").isdigit() else layer
    maps = stack_feature_maps(enc, items, layer, batch_size=args.batch_size or 16, progress=True)
    with atomic_write(args.out, force=args.force) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, maps)
    meta.update({"model": args.model, "layer": str(layer), "layout": "NCHW", "shape": list(maps.shape),
                 "preprocessing": enc.preprocessing()})
    write_json(str(args.out) + ".json", meta, args.force)
    print(f"wrote {args.out}: {' x '.join(map(str, maps.shape))} maps after {layer} of {args.model}")
    return 0


def _check_layer(args, blocks) -> None:
    """--feature-maps names 'stem', 'head' or a block of the model (checked before it loads)."""
    if blocks is None:
        raise CLIError(f"--feature-maps: model {args.model!r} has no spatial maps; use an efficientnet-lite model")
    layer = args.feature_maps
    if layer in ("stem", "head"):
        return
    if not layer.lstrip("-").isdigit() or not 0 <= int(layer) < blocks:
        raise CLIError(f"--feature-maps: {layer!r} is not 'stem', 'head' or a block of {args.model} (0 to {blocks - 1})")


def _check_modality(args, modality: str, items) -> None:
    if modality == "text" and args.images:
        raise CLIError(f"model {args.model!r} is a text encoder; it cannot embed --images")
    if modality == "image" and args.texts:
        raise CLIError(f"model {args.model!r} is an image encoder; it cannot embed --texts")
    if args.dataset and not isinstance(items[0], str) and modality == "text":
        raise CLIError(f"dataset {args.dataset!r} holds images; model {args.model!r} is a text encoder")
    if args.dataset and isinstance(items[0], str) and modality == "image" and not Path(items[0]).is_file():
        raise CLIError(f"dataset {args.dataset!r} holds texts; model {args.model!r} is an image encoder")
