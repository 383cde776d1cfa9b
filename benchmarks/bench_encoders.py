"""Throughput of every packaged encoder on this machine (items/s), load time separate."""

import os
import sys
import time

import _common  # noqa: F401
from _common import table


def main():
    import repalign as ra
    from repalign.encoders import get_encoder, list_encoders

    data = os.environ.get("REPALIGN_DATA")
    captions = ra.load_dataset("xtd10:en", data_dir=data).items[:256] if data else \
        ra.load_dataset("imagenet-classes:name").items[:256]
    images = ra.load_dataset("cifar10", data_dir=data, per_class=6).items if data else \
        ra.load_dataset("digits", per_class=6).items
    rows = []
    for info in list_encoders():
        if ":" in info.name:
            continue
        try:
            t0 = time.perf_counter()
            enc = get_encoder(info.name)
            t1 = time.perf_counter()
        except ValueError as exc:
            rows.append([info.name, info.modality, "-", "-", f"not installed: {str(exc)[:60]}"])
            continue
        items = captions if info.modality == "text" else images
        enc.encode(items[:4])  # warm-up
        t2 = time.perf_counter()
        enc.encode(items)
        t3 = time.perf_counter()
        rows.append([info.name, info.modality, t1 - t0, len(items) / (t3 - t2),
                     "XTD-10 captions" if info.modality == "text" and data else
                     ("CIFAR-10 32px upscaled" if data else "fallback data")])
    table("Encoder throughput, 2 cores", ["encoder", "modality", "load s", "items/s", "items"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
