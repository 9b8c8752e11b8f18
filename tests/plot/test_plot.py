"""symreg.plot: the figures carry what they claim (labels, η̂ line, legend, bars) and bad input
raises; figures are saved as real PNG files."""

from __future__ import annotations

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import matplotlib.rcsetup
import numpy as np
import pytest

import symreg.plot as sp
from symreg.plot import _figure

#: Relative tolerance on plotted coordinates (they are stored as float64).
COORD_RTOL = 1e-12
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_result(task="toy", eta_hat=0.05, eta_se=0.01, *, zero_symmetrized=True):
    weights = [3.0, 0.0, 1.0, 0.1, 0.3, 10.0]  # deliberately unsorted
    models = [
        {
            "name": f"β={w}",
            "weight": w,
            "model_error": 0.4 / (1 + 20 * w),
            "test_error": 1.0 + 0.5 / (1 + 20 * w) + 0.01 * w,
            "kind": "grid",
        }
        for w in weights
    ]
    models += [
        {
            "name": "unregularized",
            "weight": 0.0,
            "model_error": 0.4,
            "test_error": 1.5,
            "kind": "unregularized",
        },
        {
            "name": "Qf",
            "weight": None,
            "model_error": 0.0 if zero_symmetrized else 1e-3,
            "test_error": 1.03,
            "kind": "symmetrized",
        },
        {
            "name": "tuned",
            "weight": np.float32(0.8),
            "model_error": 0.022,
            "test_error": 1.02,
            "kind": "tuned",
        },
        {
            "name": "dual ascent",
            "weight": 0.6,
            "model_error": 0.03,
            "test_error": 1.021,
            "kind": "dual",
        },
    ]
    return {"task": task, "eta_hat": eta_hat, "eta_se": eta_se, "models": models}


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --- plot_tradeoff ------------------------------------------------------------------------------


def test_tradeoff_has_labelled_axes_title_and_legend_entries():
    ax = sp.plot_tradeoff(make_result())
    assert ax.get_xlabel().startswith("model equivariance error ED₂")
    assert ax.get_ylabel() == "test error"
    assert ax.get_title() == "toy"
    texts = legend_texts(ax)
    for expected in (
        "weight grid (β)",
        "unregularized",
        "Qf",
        "tuned weight (β = 0.8)",
        "dual ascent (β = 0.6)",
        r"$\hat\eta$ ± 1 s.e.",
    ):
        assert expected in texts, texts
    assert any(t.startswith(r"data error $\hat\eta$ = 0.05 ± 0.01") for t in texts), texts


def test_tradeoff_draws_the_exact_model_under_its_name():
    result = make_result()
    exact = {"name": "exact (e3nn)", "weight": None, "model_error": 1e-12, "test_error": 1.01}
    result["models"].append({**exact, "kind": "exact"})
    ax = sp.plot_tradeoff(result)
    assert "exact (e3nn)" in legend_texts(ax)
    marker = next(line for line in ax.lines if line.get_label() == "exact (e3nn)")
    assert marker.get_marker() == sp.KINDS["exact"][0]


def test_tradeoff_eta_line_and_band_at_eta_hat():
    eta, se = 0.037, 0.004
    ax = sp.plot_tradeoff(make_result(eta_hat=eta, eta_se=se))
    lines = [line for line in ax.lines if line.get_gid() == "eta_hat"]
    assert len(lines) == 1
    np.testing.assert_allclose(lines[0].get_xdata(), [eta, eta], rtol=COORD_RTOL)
    (band,) = [p for p in ax.patches if p.get_label() == r"$\hat\eta$ ± 1 s.e."]
    x0, x1 = sorted(band.get_path().transformed(band.get_patch_transform()).vertices[:, 0][[0, 2]])
    np.testing.assert_allclose([x0, x1], [eta - se, eta + se], rtol=COORD_RTOL)


def test_tradeoff_grid_is_one_line_sorted_by_weight_and_markers_are_distinct():
    result = make_result()
    ax = sp.plot_tradeoff(result)
    (grid,) = [line for line in ax.lines if line.get_label() == "weight grid (β)"]
    grid_models = sorted(
        (m for m in result["models"] if m["kind"] == "grid"), key=lambda m: m["weight"]
    )
    np.testing.assert_allclose(grid.get_xdata(), [m["model_error"] for m in grid_models])
    np.testing.assert_allclose(grid.get_ydata(), [m["test_error"] for m in grid_models])
    others = [line for line in ax.lines if line.get_label() in ("unregularized", "Qf")]
    assert len({line.get_marker() for line in others}) == 2


@pytest.mark.parametrize(
    "zero_symmetrized, eta_hat, expected",
    [(True, 0.05, "symlog"), (False, 0.05, "log"), (False, -0.01, "symlog")],
)
def test_tradeoff_x_scale_handles_decades_zero_and_negative_eta(
    zero_symmetrized, eta_hat, expected
):
    ax = sp.plot_tradeoff(make_result(eta_hat=eta_hat, zero_symmetrized=zero_symmetrized))
    assert ax.get_xscale() == expected
    # where a symlog axis turns linear is said in the label, never inside the axes
    assert ("linear below" in ax.get_xlabel()) == (expected == "symlog")
    assert not [t for t in ax.texts if "linear below" in t.get_text()]


def test_tradeoff_linear_scale_when_errors_span_less_than_two_decades():
    result = make_result()
    result["models"] = [m for m in result["models"] if 0.01 < m["model_error"]]
    assert sp.plot_tradeoff(result).get_xscale() == "linear"


def test_tradeoff_flagged_estimate_draws_the_line_without_band():
    ax = sp.plot_tradeoff(make_result(eta_se=float("inf")))
    assert not [p for p in ax.patches if p.get_label() == r"$\hat\eta$ ± 1 s.e."]
    assert any("flagged" in t for t in legend_texts(ax))


def test_tradeoff_optional_title_and_true_eta():
    result = {**make_result(eta_hat=0.05), "title": "S₄ sets, positional bias", "eta_true": 0.04}
    ax = sp.plot_tradeoff(result)
    assert ax.get_title() == "S₄ sets, positional bias"
    (truth,) = [line for line in ax.lines if line.get_gid() == "eta_true"]
    np.testing.assert_allclose(truth.get_xdata(), [0.04, 0.04], rtol=COORD_RTOL)
    assert "true η₂ = 0.04" in legend_texts(ax)
    assert not [
        line for line in sp.plot_tradeoff(make_result()).lines if line.get_gid() == "eta_true"
    ]
    with pytest.raises(ValueError, match="eta_true"):
        sp.plot_tradeoff({**make_result(), "eta_true": float("nan")})


def test_tradeoff_draws_on_a_given_axes():
    fig, ax = plt.subplots()
    assert sp.plot_tradeoff(make_result(), ax=ax) is ax
    assert ax.figure is fig


@pytest.mark.parametrize("key", ["task", "eta_hat", "eta_se", "models"])
def test_tradeoff_missing_result_key_is_named(key):
    result = make_result()
    del result[key]
    with pytest.raises(ValueError, match=f"missing the key '{key}'"):
        sp.plot_tradeoff(result)


@pytest.mark.parametrize("key", ["name", "weight", "model_error", "test_error", "kind"])
def test_tradeoff_missing_model_key_is_named(key):
    result = make_result()
    del result["models"][2][key]
    with pytest.raises(ValueError, match=rf"result\['models'\]\[2\] is missing the key '{key}'"):
        sp.plot_tradeoff(result)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"kind": "best"}, ValueError, "kind"),
        ({"model_error": -0.1}, ValueError, "model_error.*>= 0"),
        ({"test_error": float("nan")}, ValueError, "test_error.*finite"),
        ({"test_error": "big"}, TypeError, "test_error"),
        ({"weight": float("inf")}, ValueError, "weight"),
    ],
)
def test_tradeoff_bad_model_values_raise(change, error, match):
    result = make_result()
    result["models"][0].update(change)
    with pytest.raises(error, match=match):
        sp.plot_tradeoff(result)


def test_tradeoff_bad_result_raises():
    with pytest.raises(TypeError, match="result must be a dict"):
        sp.plot_tradeoff([make_result()])
    with pytest.raises(ValueError, match="eta_se"):
        sp.plot_tradeoff(make_result(eta_se=-1.0))
    with pytest.raises(ValueError, match="eta_hat"):
        sp.plot_tradeoff(make_result(eta_hat=float("nan")))
    with pytest.raises(ValueError, match="empty"):
        sp.plot_tradeoff({**make_result(), "models": []})
    with pytest.raises(TypeError, match="Axes"):
        sp.plot_tradeoff(make_result(), ax="not axes")


# --- plot_tradeoff_grid -------------------------------------------------------------------------


def test_tradeoff_grid_saves_a_png_with_one_panel_per_task(tmp_path):
    path = tmp_path / "tradeoff.png"
    fig = sp.plot_tradeoff_grid([make_result(t) for t in ("a", "b", "c", "d")], path, ncols=3)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", "d"]  # the 6th slot removed
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    height, width, _ = matplotlib.image.imread(path).shape
    assert width > height > 300


def test_tradeoff_grid_bad_input_raises():
    with pytest.raises(TypeError, match="list of trade-off results"):
        sp.plot_tradeoff_grid(make_result())
    with pytest.raises(ValueError, match="empty"):
        sp.plot_tradeoff_grid([])
    with pytest.raises(ValueError, match="ncols"):
        sp.plot_tradeoff_grid([make_result()], ncols=0)
    bad = make_result("b")
    del bad["eta_hat"]
    with pytest.raises(ValueError, match=r"results\[1\]: result is missing the key 'eta_hat'"):
        sp.plot_tradeoff_grid([make_result("a"), bad])
    assert plt.get_fignums() == []  # validated before drawing


# --- plot_per_element ---------------------------------------------------------------------------


def test_per_element_bars_are_means_with_standard_errors(rng):
    errors = rng.exponential(size=(8, 50)) * np.arange(8)[:, None]
    labels = ["e", "r", "r²", "r³", "s", "rs", "r²s", "r³s"]
    ax = sp.plot_per_element(errors, labels)
    np.testing.assert_allclose([p.get_height() for p in ax.patches], errors.mean(1), rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    (bars,) = [c for c in ax.containers if hasattr(c, "errorbar") and c.errorbar is not None]
    segments = bars.errorbar.lines[2][0].get_segments()
    half = np.array([(s[1, 1] - s[0, 1]) / 2 for s in segments])
    np.testing.assert_allclose(half, errors.std(1, ddof=1) / np.sqrt(50), rtol=1e-9)
    assert ax.get_xlabel() == "group element g" and ax.get_ylabel()


def test_per_element_against_angle_scatter_and_binned_mean():
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False) + 0.01
    errors = (1 - np.cos(angles))[:, None] * np.ones((1, 5))
    ax = sp.plot_per_element(errors, angles=angles)
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets()[:, 0], np.degrees(angles), rtol=1e-12)
    (binned,) = [line for line in ax.lines if line.get_label().startswith("binned mean")]
    # 72 angles, 5° apart, 3 per 15° bin: the binned mean is the mean of each triple.
    np.testing.assert_allclose(binned.get_ydata(), errors[:, 0].reshape(24, 3).mean(1), rtol=1e-12)
    assert ax.get_xlabel() == "rotation angle (degrees)"
    assert ax.get_xlim() == (0.0, 360.0)


def test_per_element_bad_input_raises():
    with pytest.raises(ValueError, match=r"shape \(G, B\)"):
        sp.plot_per_element(np.ones(4))
    with pytest.raises(ValueError, match="3 labels but errors has G = 4"):
        sp.plot_per_element(np.ones((4, 2)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="labels"):
        sp.plot_per_element(np.ones((2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="angles must have shape"):
        sp.plot_per_element(np.ones((4, 2)), angles=np.ones(3))
    with pytest.raises(ValueError, match="not both"):
        sp.plot_per_element(np.ones((4, 2)), ["a"] * 4, angles=np.ones(4))
    assert plt.get_fignums() == []


# --- plot_estimates -----------------------------------------------------------------------------


class FakeEstimate:
    def __init__(self, value, stderr):
        self.value, self.stderr = np.float32(value), np.float32(stderr)


def test_estimates_single_layout_bars_are_two_standard_errors_and_truth_line():
    ax = sp.plot_estimates(
        {"crossfit": FakeEstimate(0.26, 0.02), "riskgap": (0.2, 0.05)}, truth=0.25
    )
    (truth,) = [line for line in ax.lines if line.get_gid() == "truth"]
    np.testing.assert_allclose(truth.get_ydata(), [0.25, 0.25])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["crossfit", "riskgap"]
    halves = []
    for c in ax.containers:
        (seg,) = c.lines[2][0].get_segments()
        halves.append((seg[1, 1] - seg[0, 1]) / 2)
    np.testing.assert_allclose(halves, [0.04, 0.1], rtol=1e-6)
    assert "truth η₂ = 0.25" in legend_texts(ax)


def test_estimates_against_truth_layout_with_identity_line_and_flagged_marker():
    truths = [0.0, 0.1, 0.4]
    estimates = {
        "oracle": [(0.0, 0.001), (0.1, 0.002), (0.41, 0.004)],
        "pairing": [(0.02, 0.01), (float("nan"), float("inf")), (0.5, float("inf"))],
    }
    ax = sp.plot_estimates(estimates, truth=truths)
    (identity,) = [line for line in ax.lines if line.get_gid() == "truth"]
    np.testing.assert_array_equal(identity.get_xdata(), identity.get_ydata())
    assert ax.get_xlabel() == "true data error η₂"
    texts = legend_texts(ax)
    assert {"oracle", "pairing", "pairing: flagged (s.e. = ∞)", "truth (y = x)"} <= set(texts)
    (flagged,) = [line for line in ax.lines if line.get_label() == "pairing: flagged (s.e. = ∞)"]
    assert flagged.get_ydata()[0] == 0.5  # the NaN value is left out


def test_estimates_bad_input_raises():
    with pytest.raises(TypeError, match="non-empty dict"):
        sp.plot_estimates({})
    with pytest.raises(TypeError, match="Estimate"):
        sp.plot_estimates({"a": "0.3"})
    with pytest.raises(ValueError, match="same length"):
        sp.plot_estimates({"a": [(1.0, 0.1)], "b": [(1.0, 0.1), (2.0, 0.1)]})
    with pytest.raises(ValueError, match="mixes"):
        sp.plot_estimates({"a": (1.0, 0.1), "b": [(1.0, 0.1)]})
    with pytest.raises(ValueError, match="truth has 1 values"):
        sp.plot_estimates({"a": [(1.0, 0.1), (2.0, 0.1)]}, truth=[1.0])
    with pytest.raises(ValueError, match="finite"):
        sp.plot_estimates({"a": (1.0, 0.1)}, truth=float("nan"))
    assert plt.get_fignums() == []


# --- backend ------------------------------------------------------------------------------------


def test_agg_is_selected_only_when_no_backend_is_set(monkeypatch):
    chosen = []
    monkeypatch.setattr(matplotlib, "use", chosen.append)
    monkeypatch.setattr(_figure, "_backend_is_chosen", lambda: True)
    _figure.select_backend()
    assert chosen == []
    monkeypatch.setattr(_figure, "_backend_is_chosen", lambda: False)
    _figure.select_backend()
    assert chosen == ["Agg"]


def test_backend_detection_reads_the_unset_sentinel():
    assert _figure._backend_is_chosen()  # this process has a resolved backend
    params = matplotlib.rcParams
    saved = dict.__getitem__(params, "backend")
    dict.__setitem__(params, "backend", matplotlib.rcsetup._auto_backend_sentinel)  # "unset"
    try:
        assert not _figure._backend_is_chosen()
    finally:
        dict.__setitem__(params, "backend", saved)
    assert _figure._backend_is_chosen()
