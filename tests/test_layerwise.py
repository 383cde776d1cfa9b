"""Layer-wise CKA maps: equal to full activations + repalign.cka, batch-size independent,
the minibatch estimator's definition, layer selection, bad input."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import repalign as ra  # noqa: E402
from repalign._layerwise import layerwise, select_layers  # noqa: E402


def small_net(seed=0, width=6):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, width, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(width, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 5, 3, stride=2), torch.nn.Flatten(), torch.nn.Linear(5 * 3 * 3, 7)).eval()


def full_features(net, x, layers, pooling="mean"):
    mods = dict(net.named_modules())
    out = {}
    hooks = [mods[n].register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o.detach())) for n in layers]
    with torch.no_grad():
        net(torch.as_tensor(x, dtype=torch.float32))
    for h in hooks:
        h.remove()
    feats = []
    for n in layers:
        t = out[n]
        if t.ndim == 4:
            t = t.mean(dim=(2, 3)) if pooling == "mean" else t.reshape(len(t), -1)
        feats.append(t.numpy().astype(np.float64))
    return feats


@pytest.fixture
def images():
    return np.random.default_rng(0).normal(size=(90, 3, 8, 8)).astype(np.float32)


def test_streamed_equals_full_activations_and_cka(images):
    a, b = small_net(0), small_net(1)
    la, lb = ["0", "2", "4", "6"], ["0", "4", "6"]
    res = layerwise(a, b, images, layers_a=la, layers_b=lb, batch_size=16)
    fa, fb = full_features(a, images, la), full_features(b, images, lb)
    ref = np.array([[ra.cka(x, y) for y in fb] for x in fa])
    assert np.allclose(res.matrix, ref, atol=1e-10)
    again = layerwise(a, b, images, layers_a=la, layers_b=lb, batch_size=7)  # batch size does not matter
    assert np.allclose(again.matrix, res.matrix, atol=1e-12)


def test_model_against_itself_has_ones_on_the_diagonal(images):
    net = small_net(2)
    res = layerwise(net, None, images, batch_size=32)
    assert res.layers_a == ("0", "1", "2", "3", "4", "5", "6")  # the Sequential's children by default
    assert np.allclose(res.diagonal(), 1.0) and np.allclose(res.matrix, res.matrix.T)
    assert res.same_model


def test_minibatch_estimator_is_the_nguyen_definition(images):
    a, b = small_net(0), small_net(3)
    la = lb = ["2", "6"]
    res = layerwise(a, b, images, layers_a=la, layers_b=lb, estimator="minibatch", batch_size=30, seed=4)
    order = np.random.default_rng(4).permutation(len(images))
    fa, fb = full_features(a, images, la), full_features(b, images, lb)
    from repalign.measures.kernel_alignment import hsic_from_grams

    num = np.zeros((2, 2))
    da, db = np.zeros(2), np.zeros(2)
    for s in range(0, 90, 30):
        idx = order[s:s + 30]
        Ka = [x[idx] @ x[idx].T for x in fa]
        Kb = [y[idx] @ y[idx].T for y in fb]
        num += np.array([[hsic_from_grams(k, m, debiased=True) for m in Kb] for k in Ka])
        da += [hsic_from_grams(k, k, debiased=True) for k in Ka]
        db += [hsic_from_grams(m, m, debiased=True) for m in Kb]
    assert np.allclose(res.matrix, num / np.sqrt(np.outer(da, db)), atol=1e-10)
    # one batch holding every item is the debiased CKA of the full data
    one = layerwise(a, b, images, layers_a=la, layers_b=lb, estimator="minibatch", batch_size=90)
    ref = np.array([[ra.cka(x, y, debiased=True) for y in fb] for x in fa])
    assert np.allclose(one.matrix, ref, atol=1e-10)
    # flattened maps are served by the minibatch estimator only
    flat = layerwise(a, b, images, layers_a=la, layers_b=lb, estimator="minibatch", pooling="flatten", batch_size=30)
    assert flat.dims_a[0] == 8 * 8 * 8
    with pytest.raises(ValueError, match="minibatch"):
        layerwise(a, b, images, layers_a=la, layers_b=lb, pooling="flatten")


def test_layer_selection():
    net = small_net()
    assert select_layers(net, "re:[02]") == ["0", "2"]
    assert select_layers(net, ["4"]) == ["4"]
    with pytest.raises(ValueError, match="matches no layer; available: 0, 1, 2"):
        select_layers(net, "encoder.*")
    with pytest.raises(ValueError, match="no layer named 'x'"):
        select_layers(net, ["x"])


def test_module_py_factory(tmp_path, images):
    (tmp_path / "mine.py").write_text("import torch\n\ndef build():\n    torch.manual_seed(0)\n"
                                      "    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())\n")
    res = layerwise(f"{tmp_path / 'mine.py'}:build", None, images[:20], batch_size=8)
    assert res.matrix.shape == (2, 2)
    with pytest.raises(ValueError, match="no function 'nope'"):
        layerwise(f"{tmp_path / 'mine.py'}:nope", None, images[:20])


@pytest.mark.parametrize("kwargs,match", [
    ({"estimator": "exact"}, "estimator"),
    ({"pooling": "max"}, "pooling"),
    ({"measure": "rsa"}, "measure"),
    ({"measure": "cka-linear-debiased"}, "minibatch"),
    ({"inputs": None}, "inputs"),
    ({"layers_a": "transformer.*"}, "matches no layer"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_input(images, kwargs, match):
    args = {"inputs": images[:20]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        layerwise(small_net(), small_net(1), **args)


@pytest.mark.encoders
def test_packaged_encoders(tmp_path):
    from repalign.datasets import load_digits

    items = load_digits(per_class=2).items
    res = layerwise("efficientnet-lite0", None, items[:12], batch_size=6)
    assert res.layers_a[0] == "_blocks.0" and len(res.layers_a) == 16
    assert np.allclose(res.diagonal(), 1.0)
    texts = ["a dog runs in the park", "the cat sleeps", "stock prices fell", "it rains today", "a red car",
             "two children play football", "the market closed higher", "a bird on a branch"]
    t = layerwise("minilm", None, texts, batch_size=4)
    assert t.layers_a == tuple(f"encoder.layer.{i}" for i in range(6)) and np.allclose(t.diagonal(), 1.0)
    from torch.utils.data import DataLoader

    # a DataLoader of texts (batches are lists of strings) gives the map of the same items
    loaded = layerwise("minilm", "minilm", DataLoader(texts, batch_size=4), layers_b=["encoder.layer.5"])
    assert np.allclose(loaded.matrix[:, 0], t.matrix[:, 5], atol=1e-6)
    with pytest.raises(ValueError, match="same items"):
        layerwise("minilm", "efficientnet-lite0", texts)
    with pytest.raises(ValueError, match="cannot be hooked"):
        layerwise("use-multilingual", None, texts)


def test_layers_cli(tmp_path, capsys):

    from repalign.cli import main

    (tmp_path / "m.py").write_text("import torch\n\ndef build():\n    torch.manual_seed(0)\n    return torch.nn.Sequential("
                                   "torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))\n")
    # a tensor model needs tensors: the CLI feeds text/image items, so it is refused clearly
    (tmp_path / "t.txt").write_text("a\nb\nc\nd\ne\n")
    code = main(["layers", f"{tmp_path / 'm.py'}:build", "--texts", str(tmp_path / "t.txt")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("repalign: error:") and len(err.strip().splitlines()) == 1
    code = main(["layers", "no-such-model", "--texts", str(tmp_path / "t.txt")])
    assert code == 2 and "unknown encoder" in capsys.readouterr().err
    code = main(["layers", "efficientnet-lite0", "--texts", str(tmp_path / "t.txt"), "--dataset", "digits"])
    assert code == 2 and "exactly one" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "layers.json").write_text("{}")
    code = main(["layers", "efficientnet-lite0", "--dataset", "digits", "--limit", "8", "--out", str(tmp_path / "out")])
    assert code == 2 and "already exists" in capsys.readouterr().err


@pytest.mark.encoders
def test_layers_cli_writes_heatmaps(tmp_path, capsys):
    import json

    from repalign.cli import main

    out = tmp_path / "o"
    assert main(["layers", "efficientnet-lite0", "--dataset", "digits", "--limit", "12", "--batch-size", "6",
                 "--layers-a", "_blocks.1?", "--out", str(out), "--json", "--quiet"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "layerwise" and d["layers_a"] == [f"_blocks.1{i}" for i in range(6)]
    assert (out / "layers.png").read_bytes()[:4] == b"\x89PNG" and (out / "diagonal.png").exists()


def test_globs_stay_within_a_level_and_memory_is_guarded(images):
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()), torch.nn.Linear(4, 2))
    assert select_layers(net, "*") == ["0", "1"]
    assert select_layers(net, "0.*") == ["0.0", "0.1"]
    assert select_layers(net, "**") == ["0", "0.0", "0.1", "1"]
    wide = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 11000))
    assert layerwise(wide, None, images[:8], layers_a=["1"]).matrix[0, 0] == pytest.approx(1.0)  # few items: kept
    with pytest.raises(ValueError, match="GB.*fewer items, or estimator='minibatch'"):
        layerwise(wide, None, np.repeat(images, 300, axis=0), layers_a=["1"], batch_size=512)


def test_streamed_keeps_the_features_of_few_items_when_moments_are_too_big(images, monkeypatch):
    # bug: MiniLM vs MPNet (11,520 pooled features, 1,000 captions) was refused for its 3 GB of
    # moments although the features take 90 MB; the Gram route gives the same CKA
    import importlib

    lw = importlib.import_module("repalign._layerwise")  # the module: repalign._layerwise is the function

    a, b = small_net(0), small_net(1)
    la, lb = ["0", "2", "4", "6"], ["0", "4", "6"]
    ref = layerwise(a, b, images, layers_a=la, layers_b=lb, batch_size=16).matrix
    monkeypatch.setattr(lw, "_MOMENT_BYTES", 40_000)  # moments 46 kB > 40 kB >= features 32 kB
    assert np.allclose(layerwise(a, b, images, layers_a=la, layers_b=lb, batch_size=16).matrix, ref, atol=1e-12)
    same = layerwise(a, None, images, layers_a=la, batch_size=16)
    assert np.allclose(same.diagonal(), 1.0) and np.allclose(same.matrix, same.matrix.T)


def test_non_square_maps_have_no_diagonal_but_a_best_match():
    from repalign._layerwise import LayerwiseResult

    M = np.array([[0.9, 0.2, 0.1], [0.3, 0.4, 0.8]])
    r = LayerwiseResult(M, ("a0", "a1"), ("b0", "b1", "b2"), "A", "B", 10, "streamed", "mean", False, 32, 0.0)
    with pytest.raises(ValueError, match="diagonal: A has 2 layers and B 3.*best_match"):
        r.diagonal()
    idx, vals = r.best_match()
    assert idx.tolist() == [0, 2] and vals.tolist() == [0.9, 0.8]
    sq = LayerwiseResult(np.eye(2), ("a0", "a1"), ("b0", "b1"), "A", "A", 10, "streamed", "mean", False, 32, 0.0)
    assert sq.diagonal().tolist() == [1.0, 1.0]


def test_cls_pooling_is_refused_on_feature_maps():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 5, 3))
    x = np.random.default_rng(0).normal(size=(8, 3, 9, 9)).astype(np.float32)
    with pytest.raises(ValueError, match="pooling: 'cls'.*no CLS token"):
        ra.layerwise(net, None, x, pooling="cls", batch_size=4)
    assert ra.layerwise(net, None, x, pooling="mean", batch_size=4).matrix.shape == (3, 3)


def test_a_text_model_refuses_image_files(tmp_path):
    from repalign._layerwise import _check_inputs_fit

    files = []
    for i in range(6):
        f = tmp_path / f"{i}.png"
        f.write_bytes(b"\x89PNG")
        files.append(str(f))

    class M:
        def __init__(self, name, modality):
            self.name, self.modality = name, modality

    text, image = M("minilm", "text"), M("efficientnet-lite0", "image")
    with pytest.raises(ValueError, match="image files but minilm is a text encoder"):
        _check_inputs_fit(text, text, files)
    with pytest.raises(ValueError, match="efficientnet-lite0 is an image model but the items are texts"):
        _check_inputs_fit(image, image, ["a cat", "a dog", "x", "y"])
    _check_inputs_fit(text, text, ["a cat", "a dog", "x", "y"])  # texts for a text model: fine
    _check_inputs_fit(image, image, files)


def test_to_pandas_labels_the_matrix_by_layer(images):
    pd = pytest.importorskip("pandas")
    a, b = small_net(0), small_net(1)
    res = layerwise(a, b, images, layers_a=["0", "2"], layers_b=["0", "4", "6"], batch_size=32)
    df = res.to_pandas()
    assert isinstance(df, pd.DataFrame) and df.shape == (2, 3)
    assert list(df.index) == ["0", "2"] and list(df.columns) == ["0", "4", "6"]
    assert df.loc["2", "6"] == res.matrix[1, 2]
    assert df.index.name == f"{res.model_a} (A)" and df.columns.name == f"{res.model_b} (B)"


# ------------------------------------------------------------------ DataLoaders, devices, plots

def test_dataloader_batches_give_the_map_of_the_items(images):
    """Bug: layerwise(a, b, DataLoader) raised 'not subscriptable' with 4+ batches and counted
    batches as items with fewer. Tuple, dict and bare-tensor batches, DataLoaders and
    generators all give the map of the same items passed as an array."""
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    a, b = small_net(0), small_net(1)
    la, lb = ["0", "2", "6"], ["0", "4"]
    ref = layerwise(a, b, images, layers_a=la, layers_b=lb, batch_size=16).matrix
    x = torch.from_numpy(images)
    y = torch.arange(len(images))
    tuples = DataLoader(TensorDataset(x, y), batch_size=10)  # 9 batches of (x, y)
    res = layerwise(a, b, tuples, layers_a=la, layers_b=lb)
    assert res.n == len(images) and np.allclose(res.matrix, ref, atol=1e-10)

    class Dicts(Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return {"pixels": x[i], "label": int(y[i]), "weight": torch.tensor(1.0)}

    dicts = DataLoader(Dicts(), batch_size=25)
    with pytest.raises(ValueError, match=r"input_key: dict batches with keys pixels, label, weight"):
        layerwise(a, b, dicts, layers_a=la, layers_b=lb)
    with pytest.raises(ValueError, match=r"input_key: the batches have no 'image'; their keys: pixels, label, weight"):
        layerwise(a, b, dicts, layers_a=la, layers_b=lb, input_key="image")
    assert np.allclose(layerwise(a, b, dicts, layers_a=la, layers_b=lb, input_key="pixels").matrix, ref, atol=1e-10)
    assert np.allclose(layerwise(a, b, dicts, layers_a=la, layers_b=lb, batch_fn=lambda d: d["pixels"]).matrix, ref,
                       atol=1e-10)
    from repalign._layerwise import _is_batch_stream

    # a DataLoader and an iterator are batches; a map-style Dataset, a list or an array are items
    assert _is_batch_stream(tuples) and _is_batch_stream(iter([x]))
    assert not any(_is_batch_stream(v) for v in (TensorDataset(x), list(images), images, x))
    gen = (x[s:s + 30] for s in range(0, len(x), 30))  # an iterator of bare tensors
    assert np.allclose(layerwise(a, b, gen, layers_a=la, layers_b=lb).matrix, ref, atol=1e-10)
    mb = layerwise(a, b, DataLoader(TensorDataset(x, y), batch_size=30), layers_a=la, layers_b=lb,
                   estimator="minibatch")
    assert mb.n == len(images) and np.all(np.isfinite(mb.matrix))


def test_dataloader_bad_input(images):
    from torch.utils.data import DataLoader, TensorDataset

    a = small_net(0)
    x = torch.from_numpy(images)
    with pytest.raises(ValueError, match="the batches held 3 items; at least 4"):
        layerwise(a, None, DataLoader(TensorDataset(x[:3]), batch_size=2))
    with pytest.raises(ValueError, match="the batches are empty"):
        layerwise(a, None, iter([]))
    with pytest.raises(ValueError, match="input_key, batch_fn: apply to batches"):
        layerwise(a, None, images, input_key="x")
    with pytest.raises(ValueError, match="batch_fn: expected a callable"):
        layerwise(a, None, DataLoader(TensorDataset(x), batch_size=8), batch_fn="x")
    with pytest.raises(ValueError, match="input_key: the batches are Tensors, not dicts"):
        layerwise(a, None, (x[s:s + 8] for s in range(0, 80, 8)), input_key="x")
    with pytest.raises(ValueError, match="no batch held 4 or more items"):
        layerwise(a, None, DataLoader(TensorDataset(x[:9]), batch_size=3), estimator="minibatch", batch_size=4)


def test_device_dtype_and_amp(images, torch_on_cpu):
    """device= with the torch statistics (the code a GPU runs, here on the CPU) against NumPy's."""
    a, b = small_net(0), small_net(1)
    ref = layerwise(a, b, images, batch_size=30)
    same = layerwise(a, b, images.astype(np.float64), batch_size=30, device="cpu")  # float64 in, float32 model
    assert np.allclose(same.matrix, ref.matrix, atol=1e-10)
    assert next(a.parameters()).dtype == torch.float32 and str(next(a.parameters()).device) == "cpu"
    auto = layerwise(a, b, images, batch_size=30, device="auto")
    assert auto.matrix.shape == ref.matrix.shape
    low = layerwise(a, b, images, batch_size=30, amp=True)  # bfloat16 autocast on the CPU
    assert np.abs(low.matrix - ref.matrix).max() < 0.05
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device: 'cuda' asked for, but torch .* sees no CUDA device"):
            layerwise(a, b, images, device="cuda")
    with pytest.raises(ValueError, match="device: expected 'cpu', 'cuda'"):
        layerwise(a, b, images, device="gpu0")
    with pytest.raises(ValueError, match="dtype: expected one of float16"):
        layerwise(a, b, images, dtype="int8")
    with pytest.raises(ValueError, match="amp: expected True or False"):
        layerwise(a, b, images, amp="yes")
    # float64 inputs into a float64 copy of the model: full precision, equal to the float32 map to float32 rounding
    a64, b64 = small_net(0).double(), small_net(1).double()
    hi = layerwise(a64, b64, images.astype(np.float64), batch_size=30, dtype=torch.float64)
    assert np.allclose(hi.matrix, ref.matrix, atol=1e-5)


def test_layerwise_result_plots_into_given_axes(images):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    res = layerwise(small_net(0), small_net(1), images, layers_a=["0", "2"], layers_b=["0", "4", "6"], batch_size=32)
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    assert res.plot(ax=ax) is fig
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["0", "4", "6"] or ax.get_xlabel()
    assert isinstance(res.plot(), Figure)


def test_device_on_the_command_line(tmp_path, capsys):
    from repalign.cli import main

    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(f"sentence number {i}" for i in range(8)) + "\n")
    assert main(["embed", "--model", "glove-50d", "--texts", str(texts), "--out", str(tmp_path / "g.npy"),
                 "--device", "cpu", "--no-cache"]) == 0
    assert main(["embed", "--model", "glove-50d", "--texts", str(texts), "--out", str(tmp_path / "h.npy"),
                 "--device", "cuda", "--no-cache"]) == 2
    err = capsys.readouterr().err
    if torch.cuda.is_available():
        assert "glove-50d runs on a glove engine on the CPU only" in err
    else:
        assert "sees no CUDA device" in err
    assert main(["embed", "--model", "glove-50d", "--texts", str(texts), "--out", str(tmp_path / "h.npy"),
                 "--device", "tpu"]) == 2
    assert "device: expected 'cpu', 'cuda'" in capsys.readouterr().err


def test_channels_last_forward_equals_the_default_layout_and_is_undone(images):
    # convolutional models forward in channels-last layout on the CPU by default (1.4-2.3x faster
    # for EfficientNet-Lite); the map must not change beyond float32 rounding, the models must
    # get their layout back, and channels_last=False must leave the layout alone
    a, b = small_net(0), small_net(1)
    seen = []
    a[0].register_forward_hook(lambda m, i, o: seen.append(m.weight.is_contiguous(memory_format=torch.channels_last)))
    kw = dict(layers_a=["0", "2", "4"], layers_b=["0", "4"], batch_size=16)
    auto = layerwise(a, b, images, **kw)
    assert seen == [True] * 6  # 90 items in batches of 16
    assert all(p.is_contiguous() for p in a.parameters()) and all(p.is_contiguous() for p in b.parameters())
    seen.clear()
    off = layerwise(a, b, images, channels_last=False, **kw)
    assert seen == [False] * 6
    assert np.allclose(auto.matrix, off.matrix, atol=1e-6)
    with pytest.raises(ValueError, match="channels_last"):
        layerwise(a, b, images, channels_last="yes", **kw)


def test_the_forward_pass_stops_once_every_layer_is_captured(images):
    # layers after the last chosen one (a head) are not run; the map is the same as with them
    net = small_net(3)
    ran = []
    net[6].register_forward_hook(lambda m, i, o: ran.append(1))  # the final Linear
    res = layerwise(net, None, images, layers_a=["2", "0"], batch_size=30)  # listed out of order
    assert ran == [] and res.layers_a == ("2", "0")
    fa = full_features(net, images, ["2", "0"])
    ref = np.array([[ra.cka(x, y) for y in fa] for x in fa])
    assert np.allclose(res.matrix, ref, atol=1e-10)
    layerwise(net, None, images, layers_a=["0", "6"], batch_size=30)
    assert len(ran) >= 3  # the last layer chosen: the whole pass runs, batch after batch


class ViewNet(torch.nn.Module):
    """An older-style CNN: ``x.view(n, -1)`` of a 4-D map, which fails in channels-last layout."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.fc(h.view(h.size(0), -1))


def test_a_model_that_needs_contiguous_maps_falls_back_to_its_layout(images):
    net = ViewNet().eval()
    with pytest.raises(RuntimeError):  # the premise: this model fails in channels-last
        net.to(memory_format=torch.channels_last)(torch.as_tensor(images[:2]))
    net.to(memory_format=torch.contiguous_format)
    auto = layerwise(net, None, images, layers_a=["conv", "fc"], batch_size=30)
    off = layerwise(net, None, images, layers_a=["conv", "fc"], batch_size=30, channels_last=False)
    assert np.allclose(auto.matrix, off.matrix, atol=1e-12)
    assert all(p.is_contiguous() for p in net.parameters())
    with pytest.raises(ValueError, match="forward pass failed"):  # forced: no silent fallback
        layerwise(net, None, images, layers_a=["conv", "fc"], batch_size=30, channels_last=True)
    assert all(p.is_contiguous() for p in net.parameters())


def test_streamed_moments_added_in_groups_of_rows_equal_one_update(images, monkeypatch):
    # the streamed estimator adds batches to its moments STREAM_ROWS rows at a time (each update
    # reads and writes the D x D sums); grouping must not change the map
    from repalign import _layerwise

    a, b = small_net(0), small_net(1)
    kw = dict(layers_a=["0", "2", "4"], layers_b=["0", "4", "6"], batch_size=8)
    whole = layerwise(a, b, images, **kw)  # 90 rows < STREAM_ROWS: one update
    monkeypatch.setattr(_layerwise, "STREAM_ROWS", 20)  # 12 batches of 8 in groups of 24, 24, 24, 18
    grouped = layerwise(a, b, images, **kw)
    assert np.allclose(grouped.matrix, whole.matrix, atol=1e-12)
    fa, fb = full_features(a, images, kw["layers_a"]), full_features(b, images, kw["layers_b"])
    assert np.allclose(whole.matrix, [[ra.cka(x, y) for y in fb] for x in fa], atol=1e-10)


def test_flattened_channels_last_maps_give_the_same_minibatch_map(images):
    # flatten pooling of a channels-last map takes the features in memory order (no copy): the
    # minibatch map uses only Gram matrices, which do not depend on the features' order
    a, b = small_net(0), small_net(1)
    kw = dict(layers_a=["0", "2", "4"], layers_b=["0", "4"], batch_size=16, estimator="minibatch", pooling="flatten")
    cl = layerwise(a, b, images, **kw)
    default = layerwise(a, b, images, channels_last=False, **kw)
    assert np.allclose(cl.matrix, default.matrix, atol=1e-6)


def test_a_model_against_itself_with_other_layers_on_each_side(images):
    # bug: both captures hook the same module; with the early stop, side B's last hook stopped
    # side A's pass before A's own layers ran ("layers: '4' did not run")
    net = small_net(0)
    la, lb = ["4", "6"], ["0", "2"]
    res = layerwise(net, None, images, layers_a=la, layers_b=lb, batch_size=30)
    fa, fb = full_features(net, images, la), full_features(net, images, lb)
    assert np.allclose(res.matrix, [[ra.cka(x, y) for y in fb] for x in fa], atol=1e-10)
