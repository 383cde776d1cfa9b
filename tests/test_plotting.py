"""The figure builders: they return Figures, draw into a given ax/fig, and never touch the
user's matplotlib backend or pyplot's global state."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from repalign import plotting  # noqa: E402


@pytest.fixture
def spec_like():
    lam = np.array([0.3, 0.1, 0.0, -0.05, -0.2])
    modes = [SimpleNamespace(eigenvalue=0.3, side="A", top_indices=np.array([0, 1])),
             SimpleNamespace(eigenvalue=-0.2, side="B", top_indices=np.array([2, 3]))]
    return SimpleNamespace(eigenvalues=lam, modes=modes, spec_diff=0.5, kernel="cosine", n=5)


@pytest.fixture
def layers_like():
    return SimpleNamespace(matrix=np.eye(3) * 0.5 + 0.25, layers_a=["a0", "a1", "a2"], layers_b=["b0", "b1", "b2"],
                           model_a="A", model_b="B", estimator="streamed", n=10, diagonal=lambda: np.full(3, 0.75))


def test_builders_return_figures_and_draw_into_a_given_ax(spec_like, layers_like):
    fig = Figure()
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    assert plotting.spectrum(spec_like, ax=ax1) is fig
    assert plotting.layer_heatmap(layers_like, ax=ax2) is fig
    assert plotting.layer_diagonal({"x": layers_like}, ax=ax3) is fig
    assert plotting.scatter([{"x": 0, "y": 1}, {"x": 1, "y": 2}], x="x", y="y", ax=ax4) is fig
    assert len(ax1.collections) >= 1 and len(ax3.lines) == 1
    for new in (plotting.spectrum(spec_like), plotting.layer_heatmap(layers_like),
                plotting.matrix_heatmap(np.eye(4)), plotting.confusion_matrices([np.eye(3)], ["t"])):
        assert isinstance(new, Figure)


def test_a_partial_spectrum_is_drawn_with_a_gap_for_its_missing_middle(spec_like):
    # spectrum="ends" results hold the two ends only: ranks from each end, a gap between them
    ends = SimpleNamespace(**{**vars(spec_like), "eigenvalues": np.array([0.3, 0.1, -0.05, -0.2]), "complete": False})
    fig = Figure()
    ax = fig.subplots()
    plotting.spectrum(ends, ax=ax)
    xs = np.concatenate([seg[:, 0] for seg in ax.collections[0].get_segments()])
    assert sorted(set(xs.tolist())) == [0.0, 1.0, 4.0, 5.0]  # negatives shifted past the gap
    assert "middle not" in " ".join(t.get_text() for t in ax.texts) and "each end" in ax.get_xlabel()
    marked = ax.collections[1].get_offsets()
    assert sorted(map(tuple, np.asarray(marked).tolist())) == [(0.0, 0.3), (5.0, -0.2)]
    full = Figure().subplots()
    plotting.spectrum(spec_like, ax=full)  # no `complete` attribute: a whole spectrum, no gap
    assert not full.texts and full.get_xlabel() == "eigenvalue rank (descending)"


def test_multi_panel_builders_draw_into_a_given_figure():
    curve = SimpleNamespace(fractions=[0, 0.5, 1], mean={"cka-linear": [1, 0.5, 0]}, std={"cka-linear": [0, 0.1, 0]})
    fig = Figure()
    assert plotting.shuffle_curves({"pair": curve}, fig=fig) is fig and len(fig.axes) == 1


def test_save_figure_checks_the_extension_and_keeps_existing_files(tmp_path):
    fig = plotting.matrix_heatmap(np.eye(3))
    out = plotting.save_figure(fig, tmp_path / "m.svg")
    assert out.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="already exists"):
        plotting.save_figure(fig, out)
    with pytest.raises(ValueError, match="plot"):
        plotting.save_figure(fig, tmp_path / "m.txt")
    assert plotting.figure_png(fig).startswith(b"\x89PNG")


def test_plotting_leaves_the_backend_and_pyplot_alone(tmp_path):
    code = (
        "import matplotlib\nmatplotlib.use('svg')\nimport numpy as np, sys\nfrom repalign import plotting\n"
        f"plotting.save_figure(plotting.matrix_heatmap(np.eye(3)), {str(tmp_path / 'x.png')!r})\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["svg", "False"], out.stderr
    assert (tmp_path / "x.png").read_bytes().startswith(b"\x89PNG")


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="M: expected a 2-D"):
        plotting.matrix_heatmap(np.zeros(3))
    with pytest.raises(ValueError, match="mats"):
        plotting.confusion_matrices([], [])


def test_shuffle_curve_plots_itself(rng):
    """ShuffleCurve.plot: one panel per measure by default, every measure in given axes."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    import repalign as ra

    X = rng.normal(size=(60, 5))
    curve = ra.shuffle_curve(X, X @ rng.normal(size=(5, 4)), ["cka-linear", "mutual-knn"], n_repeats=1)
    fig = curve.plot(title="t")
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.has_data()]) == 2
    own = Figure()
    ax = own.add_subplot()
    assert curve.plot(ax=ax) is own and len(ax.lines) == 2
    from repalign.measures.figures import shuffle_curves as builder
    from repalign.plotting import shuffle_curves

    assert shuffle_curves is builder  # one builder, re-exported
