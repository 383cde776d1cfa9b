"""The command line, embed: texts, images, datasets, the cache."""

import json

import numpy as np

from .conftest import one_line_error, run


def test_embed_cli_and_cache(capsys, tmp_path):
    texts = tmp_path / "t.txt"
    texts.write_text("a dog runs\nthe cat sleeps\nstock prices fell\n")
    out = tmp_path / "e.npy"
    code, stdout, _ = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", out)
    assert code == 0 and np.load(out).shape == (3, 50)
    meta = json.loads((tmp_path / "e.npy.json").read_text())
    assert meta["model"] == "glove-50d" and meta["n"] == 3 and meta["from_cache"] is False
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", out)
    assert code == 2 and "already exists" in err
    code, stdout, _ = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", out, "--force")
    assert code == 0 and "from cache" in stdout


def test_embed_errors(capsys, tmp_path, monkeypatch):
    texts = tmp_path / "t.txt"
    texts.write_text("hello\n")
    code, _, err = run(capsys, "embed", "--model", "clip-vit", "--texts", texts, "--out", tmp_path / "o.npy")
    assert code == 2 and "unknown encoder" in err and "minilm" in err
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "imagenet-1k", "--out", tmp_path / "o.npy")
    assert code == 2 and "unknown dataset" in err and "xtd10" in err
    monkeypatch.delenv("REPALIGN_DATA", raising=False)
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "xtd10", "--out", tmp_path / "o.npy")
    assert code == 2 and "REPALIGN_DATA" in err
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "xtd10", "--data-dir", tmp_path / "x",
                       "--out", tmp_path / "o.npy")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--out", tmp_path / "o.npy")
    assert code == 2 and "exactly one" in err
    assert not (tmp_path / "o.npy").exists()


def test_embed_refuses_wrong_modality_before_loading(capsys, tmp_path, monkeypatch):
    import repalign.cli.embed as embed

    def never(*a, **k):  # the model is never loaded (was a wall-clock check)
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(embed, "get_encoder", never)
    code, _, err = run(capsys, "embed", "--model", "minilm", "--dataset", "digits", "--out", tmp_path / "o.npy")
    assert code == 2 and "holds images" in err
    (tmp_path / "t.txt").write_text("a\n")
    code, _, err = run(capsys, "embed", "--model", "efficientnet-lite0", "--texts", tmp_path / "t.txt",
                       "--out", tmp_path / "o.npy")
    assert code == 2 and "image encoder" in err


def test_failed_cache_write_warns_and_the_command_goes_on(capsys, tmp_path, monkeypatch):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "blocked"))
    texts = tmp_path / "t.txt"
    texts.write_text("a dog runs\nthe cat sleeps\n")
    code, out, err = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", tmp_path / "e.npy",
                         "--quiet")
    assert code == 0 and np.load(tmp_path / "e.npy").shape == (2, 50)
    assert err.count("repalign: warning:") == 1 and "embedding cache" in err


def test_texts_keep_one_row_per_line_and_limit_applies(capsys, tmp_path):
    t = tmp_path / "t.txt"
    t.write_text("first\n\nthird\n")
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", t, "--out", tmp_path / "e.npy")
    one_line_error(code, err, "line 2 is blank")
    assert not (tmp_path / "e.npy").exists()
    t.write_text("a dog\nthe cat\nstocks fell\nrain today\n\n\n")  # trailing blank lines do not shift rows
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", t, "--out", tmp_path / "e.npy", "--quiet")
    assert code == 0 and np.load(tmp_path / "e.npy").shape == (4, 50)
    code, _, _ = run(capsys, "embed", "--model", "glove-50d", "--texts", t, "--out", tmp_path / "l.npy", "--limit",
                     "2", "--quiet")
    assert code == 0 and np.load(tmp_path / "l.npy").shape == (2, 50)
    full, part = np.load(tmp_path / "e.npy"), np.load(tmp_path / "l.npy")
    assert np.array_equal(full[:2], part)


def test_feature_map_layers_are_checked_before_the_model_loads(capsys, tmp_path, monkeypatch):
    # bug: --feature-maps 99 was refused only after loading the model
    import repalign.cli.embed as embed

    def never(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(embed, "get_encoder", never)
    (tmp_path / "imgs").mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a.png")
    for layer, expect in (("99", "0 to 15"), ("-1", "0 to 15"), ("middle", "not 'stem', 'head'")):
        code, _, err = run(capsys, "embed", "--model", "efficientnet-lite0", "--images", tmp_path / "imgs",
                           "--feature-maps", layer, "--out", tmp_path / "m.npy")
        one_line_error(code, err, expect)
    (tmp_path / "t.txt").write_text("a cat\na dog\n")
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", tmp_path / "t.txt", "--feature-maps", "3",
                       "--out", tmp_path / "m.npy")
    one_line_error(code, err, "has no spatial maps")

