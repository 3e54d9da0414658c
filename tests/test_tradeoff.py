import matplotlib
import pytest

matplotlib.use("Agg")

from tinyvdm.viz.tradeoff import tradeoff_plot  # noqa: E402


def test_tradeoff_plot_draws_a_bar_per_model_and_marks_missing_numbers():
    fig = tradeoff_plot({"VAE": {"sharpness": 0.4, "diversity": 0.9, "bits_per_dim": 3.2},
                         "GAN": {"sharpness": 1.1, "diversity": 0.3, "bits_per_dim": None}})
    axes = fig.axes
    assert len(axes) == 3
    assert len(axes[0].patches) == 2 and len(axes[2].patches) == 1
    assert any(t.get_text() == "n/a" for t in axes[2].texts)
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["VAE", "GAN"]


def test_tradeoff_plot_checks_its_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        tradeoff_plot({})
    with pytest.raises(ValueError, match="exactly the keys"):
        tradeoff_plot({"VAE": {"sharpness": 1.0}})
    with pytest.raises(ValueError, match="finite number or None"):
        tradeoff_plot({"VAE": {"sharpness": float("nan"), "diversity": 1.0, "bits_per_dim": 1.0}})
