"""Layer by layer: the CKA of every layer of one network with every layer of another.

``layerwise(model_a, model_b, inputs)`` runs both models over the same items batch by batch,
captures the chosen layers' outputs with forward hooks, and updates per-layer-pair statistics;
activations are never all held in memory (peak memory is one batch's, whatever n is).

Models: any ``torch.nn.Module`` (inputs are then tensors, or arrays, batched along axis 0), a
packaged encoder by name (``efficientnet-lite0/1/2``: images; ``minilm``, ``mpnet``, ``st:...``:
texts), ``timm:NAME``, or ``module.py:factory`` (a file and a function returning a module).
Layers: names from ``named_modules()``, chosen by a glob (``*`` stays within one dotted level,
``**`` crosses levels: ``_blocks.*`` is the blocks, not their sub-modules), a regular expression
(``re:encoder\\.layer\\.[0-5]``) or a list; the default is the blocks: the children of the largest
``ModuleList`` / ``Sequential`` (EfficientNet's ``_blocks.N``, a transformer's ``encoder.layer.N``),
not every activation function.

Pooling of each layer's output: spatial maps (b, C, H, W) and token sequences (b, T, D) are
reduced by ``mean`` (over positions; tokens weighted by the attention mask), ``cls`` (the first
token) or ``flatten`` (minibatch estimator only).

Estimators (both tested against computing all activations and calling :func:`repalign.cka`):

* ``streamed``: exact linear CKA of the pooled features. One accumulator of first and second
  moments of the concatenation of all layers' features (:class:`repalign.moments.PairMoments`),
  so each layer's products are shared by all its pairs: for layers a, b with centred
  cross-covariance C_ab, ``CKA = ‖C_ab‖² / (‖C_aa‖ ‖C_bb‖)`` (Kornblith et al. 2019). Memory
  O((Σ d)²), independent of n; results do not depend on the batch size. When those moments
  would pass 2 GB but the n × Σ d pooled features fit in 2 GB (few items, many wide layers:
  MiniLM's and MPNet's 18 layers are 11,520 features), the features are kept and the same CKA
  is computed from the layers' centred Gram matrices, ``⟨K_a, K_b⟩ / (‖K_a‖ ‖K_b‖)``.
* ``minibatch``: Nguyen, Raghu & Kornblith (2021): per batch k and layer pair,
  ``HSIC₁(K_a, K_b)`` (Song et al.'s unbiased estimator, linear kernels on the batch); the
  result is ``mean_k HSIC₁(K_a,K_b) / sqrt(mean_k HSIC₁(K_a,K_a) · mean_k HSIC₁(K_b,K_b))``. It
  converges to the debiased CKA as batches accumulate and serves flattened maps (only b × b
  Gram matrices are formed). Batches are drawn in a seeded order.

References
----------
Kornblith et al., "Similarity of Neural Network Representations Revisited", ICML 2019,
arXiv:1905.00414; Nguyen, Raghu & Kornblith, "Do Wide and Deep Networks Learn the Same Things?",
ICLR 2021, arXiv:2010.15327.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ._device import compute_device, resolve_device
from ._optional import optional
from ._progress import track
from ._result import Result
from ._validate import check_positive_int
from .encoders import Encoder, get_encoder
from .items import IMAGE_EXTENSIONS
from .kernels import linear_gram, unbiased_hsic_from_terms
from .moments import PairMoments

__all__ = ["layerwise", "LayerwiseResult", "select_layers", "ESTIMATORS", "POOLINGS"]

ESTIMATORS = ("streamed", "minibatch")
_MOMENT_BYTES = 2 << 30  # the streamed estimator's joint moments: at most 2 GB
POOLINGS = ("mean", "cls", "flatten")


@dataclass(frozen=True)
class LayerwiseResult(Result):
    """What :func:`layerwise` returns.

    Attributes
    ----------
    matrix : ndarray, shape (L_A, L_B)
        CKA of layer i of A with layer j of B.
    layers_a, layers_b : tuple of str
    model_a, model_b : str
    n : int
        Items.
    estimator : {"streamed", "minibatch"}
    pooling : str
    debiased : bool
    batch_size : int
    seconds : float
    dims_a, dims_b : tuple of int
        Feature dimension of each layer after pooling.
    """

    kind: ClassVar[str] = "layerwise"

    matrix: np.ndarray = field(repr=False)
    layers_a: tuple
    layers_b: tuple
    model_a: str
    model_b: str
    n: int
    estimator: str
    pooling: str
    debiased: bool
    batch_size: int
    seconds: float
    dims_a: tuple = ()
    dims_b: tuple = ()

    def to_pandas(self):
        """The CKA matrix as a DataFrame labelled by layer: index = layers of A (named after
        ``model_a``), columns = layers of B (named after ``model_b``); needs pandas.

        Returns
        -------
        pandas.DataFrame, shape (L_A, L_B)
        """
        pd = optional("pandas")
        return pd.DataFrame(self.matrix, index=pd.Index(list(self.layers_a), name=f"{self.model_a} (A)"),
                            columns=pd.Index(list(self.layers_b), name=f"{self.model_b} (B)"))

    def plot(self, ax=None, *, title: str | None = None):
        """The L_A × L_B CKA map (:func:`repalign.plotting.layer_heatmap`: layer names on both
        axes, a colour bar, values in the cells when the map is small); needs matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into these axes (default: a new figure).
        title : str, optional

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plotting import layer_heatmap  # noqa: PLC0415 - plotting loads scikit-learn: only when drawn

        return layer_heatmap(self, title=title, ax=ax)

    @property
    def same_model(self) -> bool:
        """Whether A and B are the same model (the diagonal then holds each layer with itself)."""
        return self.model_a == self.model_b and self.layers_a == self.layers_b

    @property
    def square(self) -> bool:
        """Whether A and B have as many layers (only then does layer i of A face layer i of B)."""
        return self.matrix.shape[0] == self.matrix.shape[1]

    def diagonal(self) -> np.ndarray:
        """CKA of layer i of A with layer i of B, for maps with as many layers on both sides.

        Returns
        -------
        ndarray, shape (L,)

        Raises
        ------
        ValueError
            For networks of different depth, where layer i of A and of B sit at different depths:
            use :meth:`best_match`.
        """
        if not self.square:
            raise ValueError(f"diagonal: {self.model_a} has {self.matrix.shape[0]} layers and {self.model_b} "
                             f"{self.matrix.shape[1]}, so layer i of one is not layer i of the other; use best_match()")
        k = self.matrix.shape[0]
        return self.matrix[np.arange(k), np.arange(k)]

    def best_match(self) -> tuple[np.ndarray, np.ndarray]:
        """For each layer of A, the layer of B most similar to it, and their CKA.

        Returns
        -------
        index : ndarray of int, shape (L_A,)
            Row ``i``'s best column (the first one on ties).
        cka : ndarray, shape (L_A,)
        """
        idx = np.argmax(self.matrix, axis=1)
        return idx, self.matrix[np.arange(len(idx)), idx]

    def to_dict(self) -> dict:
        """JSON-ready, with ``kind: "layerwise"`` for the report."""
        return {"kind": self.kind, "matrix": self.matrix.tolist(), "layers_a": list(self.layers_a),
                "layers_b": list(self.layers_b), "model_a": self.model_a, "model_b": self.model_b, "n": self.n,
                "estimator": self.estimator, "pooling": self.pooling, "debiased": self.debiased,
                "batch_size": self.batch_size, "seconds": self.seconds, "dims_a": list(self.dims_a),
                "dims_b": list(self.dims_b)}


# ---------------------------------------------------------------------------------- models


class _Model:
    """A module, how to feed it a batch of items, and its default layers."""

    def __init__(self, module, name: str, batches, default_pattern: str | None = None, modality: str = "tensor"):
        self.module, self.name, self._batches = module, name, batches
        self.default_pattern, self.modality = default_pattern, modality
        self.mask = None  # the attention mask of the current batch (token models)
        self.device = "cpu"  # where the forward passes run (layerwise(device=))
        self.dtype = None  # dtype of floating inputs (default: the module's parameters')
        self.layout = None  # "auto" or "forced" while layerwise() holds the module in channels-last

    def prepare(self, x):
        """A batch tensor on the model's device, floating inputs in its input dtype."""
        if x.is_floating_point():
            return x.to(self.device, dtype=self.dtype or _param_dtype(self.module, x.dtype))
        return x.to(self.device)

    def batches(self, items, order, batch_size):
        yield from self._batches(self, items, order, batch_size)


def _param_dtype(module, default):
    """The dtype of a module's first floating parameter (``default`` when it has none)."""
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return default


def _tensor_batches(model, items, order, batch_size):
    import torch  # layer-wise comparison is torch work

    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        x = items[idx] if isinstance(items, (np.ndarray, torch.Tensor)) else [items[i] for i in idx]
        if isinstance(x, list) and x and isinstance(x[0], (str, Path)):
            raise ValueError(f"inputs: {model.name} is a torch module and takes tensors, not texts or file names; "
                             "pass an array (N, ...) or use a packaged encoder")
        x = model.prepare(torch.as_tensor(np.asarray(x) if isinstance(x, list) else x))
        model.mask = None
        yield lambda x=x: model.module(x)


def _load_factory(spec: str):
    path, _, fn = spec.rpartition(":")
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"model: {path} is not a file; give module.py:factory")
    mod_spec = importlib.util.spec_from_file_location(p.stem, p)
    mod = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(mod)
    except Exception as exc:  # noqa: BLE001 - the user's file: report whatever it raised, one line
        raise ValueError(f"model: {p} failed to import ({type(exc).__name__}: {exc})") from None
    if not hasattr(mod, fn):
        raise ValueError(f"model: {p} has no function {fn!r}")
    return getattr(mod, fn)()


def _resolve_model(model, name_hint: str) -> _Model:
    import torch

    if isinstance(model, torch.nn.Module):
        return _Model(model.eval(), type(model).__name__, _tensor_batches)

    if isinstance(model, Encoder):
        enc, model = model, model.name
    elif not isinstance(model, str):
        raise ValueError(f"{name_hint}: expected a torch.nn.Module, an Encoder or a model name, "
                         f"got {type(model).__name__}")
    elif model.endswith(".py") or (":" in model and model.rpartition(":")[0].endswith(".py")):
        mod = _load_factory(model if ":" in model else model + ":model")
        if not isinstance(mod, torch.nn.Module):
            raise ValueError(f"model: {model} returned {type(mod).__name__}, not a torch.nn.Module")
        return _Model(mod.eval(), model, _tensor_batches)
    else:
        enc = get_encoder(model)
    if hasattr(enc, "_forward") and hasattr(enc, "_input"):  # EfficientNet-Lite

        def eff_batches(m, items, order, bs):
            for s in range(0, len(order), bs):
                x = m.prepare(enc._input([items[i] for i in order[s:s + bs]]))
                yield lambda x=x: enc._forward(x)

        return _Model(enc.model.eval(), model, eff_batches, "_blocks.*", "image")
    st = getattr(enc, "model", None)
    if st is not None and hasattr(st, "tokenize") and hasattr(st[0], "auto_model"):  # sentence-transformers

        def st_batches(m, items, order, bs):
            for s in range(0, len(order), bs):
                feats = {k: v.to(m.device) if hasattr(v, "to") else v
                         for k, v in st.tokenize([items[i] for i in order[s:s + bs]]).items()}
                m.mask = feats["attention_mask"]
                yield lambda f=feats: st[0].auto_model(**{k: v for k, v in f.items() if k != "token_type_ids"})

        return _Model(st[0].auto_model.eval(), model, st_batches, "encoder.layer.*", "text")
    if hasattr(enc, "model") and isinstance(enc.model, torch.nn.Module) and hasattr(enc, "_input"):  # timm / hf

        def generic_batches(m, items, order, bs):
            for s in range(0, len(order), bs):
                x = m.prepare(enc._input([items[i] for i in order[s:s + bs]]))
                yield lambda x=x: enc.model(x)

        return _Model(enc.model.eval(), model, generic_batches, None, enc.modality)
    raise ValueError(f"model: {model!r} ({type(enc).__name__}) exposes no torch layers (ONNX / numpy / C "
                     "engines cannot be hooked); use a torch model, an EfficientNet-Lite or a sentence-transformers "
                     "encoder")


def _glob(pattern: str) -> re.Pattern:
    """A layer glob: ``*`` within one dotted level, ``**`` across levels, ``?`` one character."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^.]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^.]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _default_layers(module, pattern: str | None) -> list[str]:
    import torch

    names = [n for n, _ in module.named_modules() if n]
    if pattern:
        rx = _glob(pattern)
        return [n for n in names if rx.fullmatch(n)]
    best, best_len = None, 1
    for n, m in module.named_modules():
        if isinstance(m, (torch.nn.ModuleList, torch.nn.Sequential)) and len(m) > best_len:
            best, best_len = n, len(m)
    if best is None:
        return [n for n, m in module.named_children()]
    return [f"{best}.{i}" if best else str(i) for i in range(best_len)]


def select_layers(module, spec=None, default_pattern: str | None = None, name: str = "layers") -> list[str]:
    """Module names for a layer selection.

    Parameters
    ----------
    module : torch.nn.Module
    spec : None, str or list of str
        None: the default (module docstring); ``re:REGEX`` (full match) or a glob on the names of
        ``named_modules()``; or a list of exact names.
    default_pattern : str, optional
        The model family's default glob.
    name : str
        Argument name used in errors.

    Returns
    -------
    list of str
        In ``named_modules()`` order.
    """
    names = [n for n, _ in module.named_modules() if n]
    if spec is None:
        chosen = _default_layers(module, default_pattern)
    elif isinstance(spec, str):
        if spec.startswith("re:"):
            try:
                rx = re.compile(spec[3:])
            except re.error as exc:
                raise ValueError(f"{name}: bad regular expression {spec[3:]!r} ({exc})") from None
            chosen = [n for n in names if rx.fullmatch(n)]
        else:
            rx = _glob(spec)
            chosen = [n for n in names if rx.fullmatch(n)]
    else:
        spec = list(spec)
        missing = [s for s in spec if s not in names]
        if missing:
            raise ValueError(f"{name}: no layer named {missing[0]!r}; available: {_preview(names)}")
        chosen = spec
    if not chosen:
        raise ValueError(f"{name}: {spec!r} matches no layer; available: {_preview(names)}")
    return chosen


def _preview(names, k: int = 25) -> str:
    more = f" ... ({len(names)} in all)" if len(names) > k else ""
    return ", ".join(names[:k]) + more


# ---------------------------------------------------------------------------------- capture


def _looks_like_image_file(x) -> bool:
    return isinstance(x, (str, Path)) and Path(x).suffix.lower() in IMAGE_EXTENSIONS and Path(x).is_file()


def _check_inputs_fit(A: _Model, B: _Model, inputs) -> None:
    """Refuse items a model cannot take (a text encoder would happily embed image paths as text)."""
    first = inputs[0]
    for m in (A, B):
        if m.modality == "text" and not isinstance(first, str):
            raise ValueError(f"inputs: {m.name} is a text encoder but the items are {type(first).__name__}s; "
                             "give it texts")
        if m.modality == "text" and sum(_looks_like_image_file(x) for x in inputs[:20]) >= min(len(inputs), 20) / 2:
            raise ValueError(f"inputs: the items are image files but {m.name} is a text encoder, which would embed "
                             "their file names as text; use an image model (e.g. efficientnet-lite0)")
        if m.modality == "image" and isinstance(first, str) and not _looks_like_image_file(first):
            raise ValueError(f"inputs: {m.name} is an image model but the items are texts (e.g. {first[:40]!r}); "
                             "give it image files or arrays")


def _pool(t, pooling: str, mask):
    import torch

    if isinstance(t, (tuple, list)):
        t = t[0]
    if hasattr(t, "last_hidden_state"):
        t = t.last_hidden_state
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"layers: a chosen layer returned {type(t).__name__}, not a tensor; choose another layer")
    t = t.detach().float()
    if t.ndim == 2:
        return t
    if pooling == "flatten":
        if t.ndim == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
            # in memory order (H, W, C): a view, not a copy; flattened features only feed Gram
            # matrices (minibatch estimator), which do not depend on the order of the features
            return t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)
        return t.reshape(t.shape[0], -1)
    if t.ndim == 4:  # (b, C, H, W)
        if pooling == "cls":  # a feature map has no CLS token: its top-left pixel is not one
            raise ValueError("pooling: 'cls' takes the first token of (batch, tokens, dim) outputs, but a chosen layer "
                             f"returns (batch, C, H, W) maps {tuple(t.shape)} with no CLS token; use pooling='mean' "
                             "or 'flatten'")
        return t.mean(dim=(2, 3))
    if t.ndim == 3:  # (b, T, D) tokens
        if pooling == "cls":
            return t[:, 0]
        if mask is not None and mask.shape[:2] == t.shape[:2]:
            w = mask.to(t.dtype).unsqueeze(-1)
            return (t * w).sum(1) / w.sum(1).clamp_min(1.0)
        return t.mean(dim=1)
    return t.reshape(t.shape[0], -1)


class _AllCaptured(Exception):
    """Raised by the last hook of a forward pass once every chosen layer has its output: the
    layers after it (EfficientNet's head, a transformer's upper layers) need not run."""


class _Capture:
    def __init__(self, model: _Model, layers, pooling, amp: bool = False, on_device: bool = False):
        self.model, self.layers, self.pooling, self.amp, self.on_device = model, layers, pooling, amp, on_device
        self.out = {}
        self.active = False
        mods = dict(model.module.named_modules())
        self.handles = [mods[n].register_forward_hook(self._hook(n)) for n in layers]

    def _hook(self, name):
        def hook(_module, _inp, output):
            # only while this capture runs: a model against itself with other layers on side B
            # has both captures' hooks on one module (the other's last hook would stop this pass)
            if self.active and name not in self.out:  # a module applied twice keeps its first output
                self.out[name] = _pool(output, self.pooling, self.model.mask)
                if len(self.out) == len(self.layers):
                    raise _AllCaptured  # the rest of the forward pass (a head, later layers) is not needed
        return hook

    def run(self, call):
        import torch

        self.out = {}
        device_type = str(self.model.device).split(":")[0]
        amp = torch.autocast(device_type) if self.amp else contextlib.nullcontext()
        def forward():
            with contextlib.suppress(_AllCaptured):  # the hooks' early stop
                call()

        self.active = True
        with torch.inference_mode(), amp:
            try:
                try:
                    forward()
                except (RuntimeError, TypeError, ValueError, IndexError):
                    if self.model.layout != "auto":
                        raise
                    # a model that needs contiguous maps (``x.view(n, -1)`` on a 4-D map fails in
                    # channels-last): its own layout back, for this batch and the rest
                    _back_to_contiguous([self.model])
                    self.out = {}
                    forward()
            except (RuntimeError, TypeError, ValueError, IndexError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ValueError(f"{self.model.name}: its forward pass failed on these inputs ({type(exc).__name__}: "
                                 f"{first}); do both models take the same inputs?") from None
            finally:
                self.active = False
        missing = [n for n in self.layers if n not in self.out]
        if missing:
            raise ValueError(f"layers: {missing[0]!r} did not run in the forward pass; choose layers that do")
        if self.on_device:  # the statistics run where the model ran (layerwise(device=...))
            return [self.out[n].to(torch.float64) for n in self.layers]
        return [self.out[n].to("cpu", torch.float64).numpy() for n in self.layers]

    def close(self):
        for h in self.handles:
            h.remove()


# ------------------------------------------------------------------------------ batches and devices

_INPUT_KEYS = ("input", "inputs", "x", "pixel_values", "image", "images")


def _is_batch_stream(inputs) -> bool:
    """A DataLoader (anything with a ``dataset`` and a ``batch_sampler``) or an iterator of batches;
    not a sequence of items (lists, arrays, tensors, map-style Datasets)."""
    if hasattr(inputs, "dataset") and hasattr(inputs, "batch_sampler"):
        return True
    return hasattr(inputs, "__iter__") and not hasattr(inputs, "__getitem__")


def _length_hint(inputs, batches: bool = False):
    """Items (or batches) of a DataLoader, when it knows; else None."""
    try:
        if batches:
            return len(inputs)
        return len(inputs.dataset)
    except (TypeError, AttributeError, NotImplementedError):
        return None


def _batch_input(batch, input_key, batch_fn):
    """What the models are fed from one batch (see :func:`layerwise`, ``inputs``)."""
    if batch_fn is not None:
        return batch_fn(batch)
    if isinstance(batch, dict):
        keys = list(batch)
        if input_key is not None:
            if input_key not in batch:
                raise ValueError(f"input_key: the batches have no {input_key!r}; their keys: {', '.join(map(str, keys))}")
            return batch[input_key]
        tensors = [k for k in keys if hasattr(batch[k], "shape")]
        if len(tensors) == 1:
            return batch[tensors[0]]
        for k in _INPUT_KEYS:
            if k in batch:
                return batch[k]
        raise ValueError(f"input_key: dict batches with keys {', '.join(map(str, keys))}; say which one the models "
                         "take (input_key='...') or pass batch_fn")
    if input_key is not None:
        raise ValueError(f"input_key: the batches are {type(batch).__name__}s, not dicts; drop input_key or pass "
                         "batch_fn")
    if isinstance(batch, (tuple, list)) and batch and hasattr(batch[0], "shape"):
        return batch[0]  # (inputs, targets, ...)
    return batch


def _first_batch(inputs, input_key, batch_fn):
    """The first batch's model input (to check the models take it) and an iterator over every
    batch's model input, the first included."""
    it = iter(inputs)
    try:
        first = _batch_input(next(it), input_key, batch_fn)
    except StopIteration:
        raise ValueError("inputs: the batches are empty; at least 4 items are needed") from None

    def stream():
        yield first
        for batch in it:
            yield _batch_input(batch, input_key, batch_fn)

    if not hasattr(first, "__len__") or isinstance(first, (str, bytes)):
        raise ValueError(f"inputs: a batch gave {type(first).__name__}, not a tensor, an array or a list of items; "
                         "pass batch_fn to say what the models take")
    return first, stream()


def _stream_calls(A: _Model, B: _Model, shared: bool, stream):
    """(call of A, call of B) for every batch of a stream: each model's own batching applied to
    the batch as its items, in one piece."""
    for x in stream:
        order = np.arange(len(x))
        call_a = next(A.batches(x, order, len(x)))
        call_b = None if shared else next(B.batches(x, order, len(x)))
        yield call_a, call_b


_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _torch_dtype(dtype):
    """A floating torch dtype from a torch dtype or its name (None stays None)."""
    if dtype is None:
        return None
    import torch

    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"dtype: expected one of {', '.join(_DTYPES)} (or the torch dtype), got {dtype!r}")
    return getattr(torch, name)


def _stack(feats):
    """Side by side: NumPy arrays, or tensors kept on the device."""
    if isinstance(feats[0], np.ndarray):
        return np.hstack(feats)
    import torch

    return torch.cat(feats, dim=1)


#: the streamed estimator adds batches to its moments this many rows at a time: each update reads
#: and writes the D x D sums (D = all chosen layers' channels, ~4,500 for Lite0 + Lite2: 120 MB),
#: which per batch of 32 cost as much as 0.15 s, 5-15 % of the forward passes
STREAM_ROWS = 512


def _flush(pending: list, acc, device):
    """Add the pending ``(X, Y)`` batches to the moments ``acc`` (made on first use) in one update."""
    if isinstance(pending[0][0], np.ndarray):
        X, Y = np.vstack([x for x, _ in pending]), np.vstack([y for _, y in pending])
    else:
        import torch

        X, Y = torch.cat([x for x, _ in pending]), torch.cat([y for _, y in pending])
    pending.clear()
    if acc is None:
        acc = PairMoments(debiased=False, compute_dtype="float64", device=device)
    return acc.update(X, Y)


def _host_stack(feats) -> np.ndarray:
    return np.hstack([f if isinstance(f, np.ndarray) else f.cpu().numpy() for f in feats])


def _move_models(models, device: str):
    """Move the models' modules to ``device``; returns what :func:`_move_back` needs."""
    homes = []
    for m in models:
        params = list(m.module.parameters())
        home = params[0].device if params else None
        m.device = device
        if home is not None and str(home) != device:
            m.module.to(device)
            homes.append((m.module, home))
    return homes


def _move_back(homes) -> None:
    for module, home in homes:
        module.to(home)


def _to_channels_last(models, channels_last, device) -> list:
    """Convolutional models forward on the CPU in channels-last memory format (NHWC; oneDNN's
    fast layout): EfficientNet-Lite0 and Lite2 run 1.4x and 2.3x faster at 160 px, batch 32 (the
    inputs stay NCHW; the first convolution's output follows its weights). ``channels_last``:
    None (default) for modules with 4-D weights all in the default layout forwarding on the CPU;
    True always; False never. A model that fails in channels-last under the default (a ``view``
    of a 4-D map) gets its layout back and its batch is run again (:meth:`_Capture.run`).
    Returns the models converted, for :func:`_back_to_contiguous`."""
    import torch

    if channels_last is False:
        return []
    done = []
    for m in models:
        weights = [p for p in m.module.parameters() if p.dim() == 4]
        if not weights:
            continue
        if channels_last is None and (str(device or "cpu") != "cpu" or not all(w.is_contiguous() for w in weights)):
            continue
        m.module.to(memory_format=torch.channels_last)
        m.layout = "auto" if channels_last is None else "forced"
        done.append(m)
    return done


def _back_to_contiguous(models) -> None:
    """Undo :func:`_to_channels_last` for ``models`` still held in channels-last."""
    import torch

    for m in models:
        if m.layout is not None:
            m.module.to(memory_format=torch.contiguous_format)
            m.layout = None


# ---------------------------------------------------------------------------------- estimators


def _hsic_terms(K):
    """Zero-diagonal Gram, its total, row sums: what the unbiased HSIC needs."""
    Kt = K.copy()
    np.fill_diagonal(Kt, 0.0)
    return Kt, Kt.sum(), Kt.sum(1)


def _unbiased_matrix(KA, KB):
    """HSIC₁ of every layer pair of one batch: KA (La, b, b), KB (Lb, b, b) → (La, Lb)."""
    n = KA.shape[1]
    ta = [_hsic_terms(k) for k in KA]
    tb = [_hsic_terms(k) for k in KB]
    A = np.stack([t[0].ravel() for t in ta])
    B = np.stack([t[0].ravel() for t in tb])
    tr = A @ B.T  # tr(K̃ L̃) for symmetric K̃, L̃
    sa, sb = np.array([t[1] for t in ta]), np.array([t[1] for t in tb])
    ra, rb = np.stack([t[2] for t in ta]), np.stack([t[2] for t in tb])
    return unbiased_hsic_from_terms(n, tr, sa[:, None], sb[None, :], ra @ rb.T)


def layerwise(model_a, model_b=None, inputs=None, *, layers_a=None, layers_b=None, measure: str = "cka-linear",
              estimator: str = "streamed", pooling: str = "mean", batch_size: int = 64, seed: int = 0,
              input_key: str | None = None, batch_fn=None, device=None, dtype=None, amp: bool = False,
              channels_last: bool | None = None, progress: bool = False) -> LayerwiseResult:
    """CKA of every chosen layer of ``model_a`` with every chosen layer of ``model_b``.

    Parameters
    ----------
    model_a : torch.nn.Module, Encoder or str
        A module, a packaged encoder (an instance, or a name: ``efficientnet-lite0``, ``minilm``,
        ...), ``timm:NAME`` or ``module.py:factory``.
    model_b : torch.nn.Module or str, optional
        Default: ``model_a`` (a model against itself).
    inputs : sequence, DataLoader or iterator of batches
        The items: texts or images for packaged encoders (each model preprocesses them its own
        way), tensors / arrays (N, ...) for modules. Or batches: a ``torch.utils.data.DataLoader``
        or any iterator (not a list: a list is items) yielding tensors, ``(inputs, targets, ...)``
        tuples (the first element is fed), dicts (``input_key`` picks the entry) or lists of
        texts / image files; the batches are used as they come (``batch_size`` and ``seed`` do not
        apply), both models see each batch.
    layers_a, layers_b : None, str or list of str
        See :func:`select_layers`.
    measure : {"cka-linear", "cka-linear-debiased"}
        The streamed estimator gives either; the minibatch estimator is debiased by design.
    estimator : {"streamed", "minibatch"}
        Module docstring.
    pooling : {"mean", "cls", "flatten"}
        How maps and token sequences become vectors (``flatten``: minibatch only).
    batch_size : int
        Items per forward pass (and per minibatch HSIC; needs >= 4 there).
    seed : int
        Order of the items (minibatch estimator).
    input_key : str, optional
        Dict batches: the entry fed to the models (default: the only tensor entry, else one of
        ``input``, ``inputs``, ``x``, ``pixel_values``, ``image``, ``images``).
    batch_fn : callable, optional
        Batches: ``batch_fn(batch)`` gives what the models are fed (instead of the rules above).
    device : {None, "cpu", "cuda", "cuda:N", "mps", "auto"}
        Where the forward passes run (default None: the CPU, statistics in NumPy). The models are
        moved there for the call and moved back afterwards; with a GPU given, the streamed
        estimator's statistics accumulate there too (:class:`repalign.moments.PairMoments` on the
        device, float64 sums); the minibatch estimator's b × b products run on the CPU.
    dtype : torch.dtype, optional
        dtype of floating inputs (default: the model's parameter dtype, so float64 arrays feed
        a float32 model as float32).
    amp : bool
        Run the forward passes under ``torch.autocast`` (bfloat16 on the CPU, float16 on CUDA);
        off by default (the map then matches full precision to float32 rounding).
    channels_last : bool, optional
        Forward convolutional models in channels-last memory format (NHWC). Default None: on the
        CPU, for modules with 4-D weights in the default layout (1.4-2.3x faster forward passes
        for EfficientNet-Lite; the map equals the default layout's to float32 rounding). The
        modules are converted for the call and back afterwards. False keeps the layout as it is.
    progress : bool

    Returns
    -------
    LayerwiseResult

    References
    ----------
    Kornblith et al., ICML 2019, arXiv:1905.00414; Nguyen, Raghu & Kornblith, ICLR 2021,
    arXiv:2010.15327.
    """
    t0 = time.perf_counter()
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {estimator!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {POOLINGS}, got {pooling!r}")
    if measure not in ("cka-linear", "cka-linear-debiased"):
        raise ValueError(f"measure: layer-wise maps support 'cka-linear' and 'cka-linear-debiased', got {measure!r}")
    if pooling == "flatten" and estimator == "streamed":
        raise ValueError("pooling: 'flatten' gives C·H·W features per layer; use estimator='minibatch' with it")
    if measure == "cka-linear-debiased" and estimator == "streamed":
        raise ValueError("measure: the streamed map is the biased linear CKA; estimator='minibatch' gives the "
                         "debiased one")
    batch_size = check_positive_int(batch_size, "batch_size", minimum=4 if estimator == "minibatch" else 1)
    if inputs is None:
        raise ValueError("inputs: give the items both models see (texts, images or tensors)")
    if amp not in (True, False):
        raise ValueError(f"amp: expected True or False, got {amp!r}")
    if channels_last not in (None, True, False):
        raise ValueError(f"channels_last: expected None, True or False, got {channels_last!r}")
    if batch_fn is not None and not callable(batch_fn):
        raise ValueError(f"batch_fn: expected a callable taking a batch, got {type(batch_fn).__name__}")
    stats_device = compute_device(device)  # None on the CPU: the NumPy statistics are faster there
    device = resolve_device(device)
    loader = _is_batch_stream(inputs)
    if loader:
        first, stream = _first_batch(inputs, input_key, batch_fn)
        n_hint = _length_hint(inputs)
        if n_hint is None:
            n_hint = 0  # unknown: the few-items fallback of the streamed estimator is not taken
        probe = first
    else:
        if input_key is not None or batch_fn is not None:
            raise ValueError("input_key, batch_fn: apply to batches (a DataLoader or an iterator of batches), not to a "
                             "sequence of items")
        n = len(inputs)
        if n < 4:
            raise ValueError(f"inputs: {n} items; at least 4 are needed")
        n_hint = n
        probe = inputs
    A = _resolve_model(model_a, "model_a")
    same = model_b is None or model_b is model_a or (isinstance(model_b, str) and model_b == A.name)
    B = A if same else _resolve_model(model_b, "model_b")
    if {A.modality, B.modality} == {"text", "image"}:
        raise ValueError(f"model_b: {B.name} takes {B.modality}s but {A.name} takes {A.modality}s; both models must "
                         "see the same items")
    in_dtype = _torch_dtype(dtype)
    for m in (A, B):
        m.dtype = in_dtype
    _check_inputs_fit(A, B, probe)
    for m in (A, B):  # before any forward pass: texts or file names cannot feed a bare module
        if m._batches is _tensor_batches and isinstance(probe[0], (str, Path)):
            raise ValueError(f"inputs: {m.name} is a torch module and takes tensors, not texts or file names; "
                             "pass an array (N, ...) or use a packaged encoder")
    la = select_layers(A.module, layers_a, A.default_pattern, "layers_a")
    lb = la if same and layers_b is None else select_layers(B.module, layers_b, B.default_pattern, "layers_b")
    # a GPU given: the streamed statistics run there too (PairMoments on the device); otherwise NumPy
    on_device = stats_device is not None and estimator == "streamed"
    cap_a = _Capture(A, la, pooling, amp, on_device)
    cap_b = cap_a if B is A and lb == la else _Capture(B, lb, pooling, amp, on_device)
    debiased = estimator == "minibatch"
    acc = None
    kept = None
    sums = None
    dims_a = dims_b = ()
    pending = []  # streamed: batches' pooled features not yet added to the moments
    homes = _move_models([A] if B is A else [A, B], device)
    layouts = _to_channels_last([A] if B is A else [A, B], channels_last, device)
    try:
        if loader:
            pairs = _stream_calls(A, B, cap_a is cap_b, stream)
            n_batches = _length_hint(inputs, batches=True)
        else:
            order = np.arange(n) if estimator == "streamed" else np.random.default_rng(seed).permutation(n)
            calls_b = None if cap_b is cap_a else B.batches(inputs, order, batch_size)
            pairs = ((ca, None if calls_b is None else next(calls_b)) for ca in A.batches(inputs, order, batch_size))
            n_batches = -(-n // batch_size)
        seen = 0
        for call_a, call_b in track(pairs, f"layer-wise {estimator}", total=n_batches, enabled=progress,
                                    unit="batch"):
            fa = cap_a.run(call_a)
            fb = fa if cap_b is cap_a else cap_b.run(call_b)
            seen += fa[0].shape[0]
            if fa[0].shape[0] != fb[0].shape[0]:
                raise ValueError("inputs: the two models returned different batch sizes; their inputs differ")
            dims_a, dims_b = tuple(f.shape[1] for f in fa), tuple(f.shape[1] for f in fb)
            if estimator == "streamed" and acc is None and kept is None and not pending:  # the first batch
                D = sum(dims_a) + (0 if cap_b is cap_a else sum(dims_b))
                need = 3 * 8 * D * D
                if need > _MOMENT_BYTES:
                    if not n_hint or 8 * n_hint * D > _MOMENT_BYTES:
                        items = f"all {n_hint} items ({8 * n_hint * D / 2**30:.1f} GB)" if n_hint else \
                            "an unknown number of items (batches of unknown length)"
                        raise ValueError(f"layers: the streamed estimator keeps the moments of all {D} pooled "
                                         f"features ({need / 2**30:.1f} GB) or the features of {items}; choose "
                                         "fewer or smaller layers, fewer items, or estimator='minibatch'")
                    kept = ([], [])  # few items: keep the features, CKA from Gram matrices (docstring)
            if kept is not None:
                kept[0].append(_host_stack(fa))
                if cap_b is not cap_a:
                    kept[1].append(_host_stack(fb))
            elif estimator == "streamed":
                X = _stack(fa)
                pending.append((X, _stack(fb) if cap_b is not cap_a else X[:, :1]))
                if sum(len(x) for x, _ in pending) >= STREAM_ROWS:
                    acc = _flush(pending, acc, device if on_device else None)
            else:
                if fa[0].shape[0] < 4:
                    continue  # a last batch under 4 items has no unbiased HSIC
                KA = np.stack([f @ f.T for f in fa])
                KB = KA if cap_b is cap_a else np.stack([f @ f.T for f in fb])
                ab = _unbiased_matrix(KA, KB)
                aa = np.diag(_unbiased_matrix(KA, KA)) if cap_b is not cap_a else np.diag(ab)
                bb = aa if cap_b is cap_a else np.diag(_unbiased_matrix(KB, KB))
                if sums is None:
                    sums = [np.zeros_like(ab), np.zeros_like(aa), np.zeros_like(bb), 0]
                sums[0] += ab
                sums[1] += aa
                sums[2] += bb
                sums[3] += 1
        if pending:
            acc = _flush(pending, acc, device if on_device else None)
    finally:
        cap_a.close()
        if cap_b is not cap_a:
            cap_b.close()
        _back_to_contiguous(layouts)
        _move_back(homes)
    if loader:
        n = seen
        if n < 4:
            raise ValueError(f"inputs: the batches held {n} items; at least 4 are needed")
        if estimator == "minibatch" and sums is None:
            raise ValueError("inputs: no batch held 4 or more items; the minibatch estimator needs batches of >= 4")
    if kept is not None:
        M = _gram_matrix(np.vstack(kept[0]), np.vstack(kept[1]) if kept[1] else None, dims_a, dims_b)
    elif estimator == "streamed":
        M = _streamed_matrix(acc, dims_a, dims_b, same=cap_b is cap_a)
    else:
        ab, aa, bb, k = sums
        M = ab / np.sqrt(np.outer(np.maximum(aa, 1e-300), np.maximum(bb, 1e-300)))
    return LayerwiseResult(M, tuple(la), tuple(lb), A.name, B.name, n, estimator, pooling, debiased, batch_size,
                           time.perf_counter() - t0, dims_a, dims_b)


def _gram_matrix(XA: np.ndarray, XB: np.ndarray | None, dims_a, dims_b) -> np.ndarray:
    """Biased linear CKA of every layer pair from kept features (n, Σd): centred Gram matrices
    per layer, ``⟨K_a, K_b⟩ / (‖K_a‖ ‖K_b‖)`` (the streamed estimator's few-items route)."""

    def grams(X, dims):
        X = X - X.mean(axis=0)
        edges = np.concatenate([[0], np.cumsum(dims)])
        return [linear_gram(X[:, edges[i]:edges[i + 1]]) for i in range(len(dims))]

    KA = grams(XA, dims_a)
    KB = KA if XB is None else grams(XB, dims_b)
    na = np.array([np.vdot(K, K) for K in KA])
    nb = na if XB is None else np.array([np.vdot(K, K) for K in KB])
    if (na <= 0).any() or (nb <= 0).any():
        raise ValueError("layers: a chosen layer's output is constant over the items (zero variance); its CKA is "
                         "undefined, leave it out")
    return np.array([[np.vdot(Ka, Kb) for Kb in KB] for Ka in KA]) / np.sqrt(np.outer(na, nb))


def _streamed_matrix(acc: PairMoments, dims_a, dims_b, *, same: bool) -> np.ndarray:
    """Biased linear CKA of every layer pair from the joint centred moments (module docstring)."""
    ia = np.concatenate([[0], np.cumsum(dims_a)])
    ib = np.concatenate([[0], np.cumsum(dims_b)])
    cxx, cyy, cxy = acc.centered()
    if same:
        cyy, cxy, ib = cxx, cxx, ia

    def hs(block):
        return float(np.einsum("ij,ij->", block, block))

    La, Lb = len(dims_a), len(dims_b)
    self_a = np.array([hs(cxx[ia[i]:ia[i + 1], ia[i]:ia[i + 1]]) for i in range(La)])
    self_b = np.array([hs(cyy[ib[j]:ib[j + 1], ib[j]:ib[j + 1]]) for j in range(Lb)])
    zero = np.flatnonzero(self_a <= 0).tolist() + np.flatnonzero(self_b <= 0).tolist()
    if zero:
        raise ValueError("layers: a chosen layer's output is constant over the items (zero variance); its CKA is "
                         "undefined, leave it out")
    M = np.empty((La, Lb))
    for i in range(La):
        for j in range(Lb):
            M[i, j] = hs(cxy[ia[i]:ia[i + 1], ib[j]:ib[j + 1]]) / np.sqrt(self_a[i] * self_b[j])
    return M
