import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=30, deadline=None)
settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def _data_dir():
    env = os.environ.get("REPALIGN_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    return None


@pytest.fixture(scope="session")
def data_dir():
    d = _data_dir()
    if d is None:
        pytest.skip("real data not found: set REPALIGN_DATA or place the shared data at ../shared/data")
    return d


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # every test session gets its own embedding cache, never the user's
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def _package_log_as_in_a_plain_process():
    """pytest puts a capture handler on the root logger, which the package logger would defer to
    (repalign._log: an application's logging set-up wins). Tests see what a user of a plain
    process sees: the package's own stderr handler, at INFO."""
    from repalign import _log

    handler = _log._StderrHandler()
    logger = _log.logger
    old = (logger.level, logger.propagate, _log._OWN)
    logger.addHandler(handler)
    logger.setLevel("INFO")
    logger.propagate = False
    _log._OWN = handler
    yield
    logger.removeHandler(handler)
    logger.setLevel(old[0])
    logger.propagate = old[1]
    _log._OWN = old[2]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def related_pair(rng, n=200, dx=20, dy=30, noise=1.0):
    X = rng.normal(size=(n, dx))
    Y = X @ rng.normal(size=(dx, dy)) + noise * rng.normal(size=(n, dy))
    return X, Y


def isometric_views(n, noise, seed=0, dl=8):
    """Two views of one (n, dl) latent: isometric maps into 32 and 24 dimensions plus noise
    (the QAP test instances, whose optimum is the true pairing at low noise)."""
    rng = np.random.default_rng(seed)
    lat = rng.normal(size=(n, dl))
    Q1 = np.linalg.qr(rng.normal(size=(32, dl)))[0].T
    Q2 = np.linalg.qr(rng.normal(size=(24, dl)))[0].T
    return lat @ Q1 + noise * rng.normal(size=(n, 32)) / 2, lat @ Q2 + noise * rng.normal(size=(n, 24)) / 2


def maps(n=20, c=6, h=2, w=3, seed=0):
    """Random (n, c, h, w) feature maps for the semantic-RSM and assignment tests."""
    return np.random.default_rng(seed).normal(size=(n, c, h, w))


@pytest.fixture
def torch_on_cpu(monkeypatch):
    """``device="cpu"`` runs the torch kernels (the code a GPU runs) instead of the NumPy path."""
    import repalign._device

    monkeypatch.setattr(repalign._device, "TORCH_ON_CPU", True)


def run_python_ok(code: str, timeout: int) -> None:
    """Run ``code`` in a fresh Python process with a timeout, so that a hang (e.g. a forked child
    stuck in an OpenMP pool) fails the test instead of stalling the suite; the code must print
    ``ok`` last."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
