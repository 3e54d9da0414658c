"""The routes timeline of chapter 01: its table is well formed and the figure draws every entry."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from tinyvdm.viz.timeline import MILESTONES, ROUTES, Milestone, milestones_by_route, timeline_figure


def test_every_route_has_its_method_and_a_video_model():
    table = milestones_by_route()
    assert list(table) == list(ROUTES)
    for route, items in table.items():
        kinds = {m.kind for m in items}
        assert kinds == {"method", "video"}, route
        assert [m.year for m in items] == sorted(m.year for m in items)
    assert sum(len(items) for items in table.values()) == len(MILESTONES)


def test_known_dates():
    by_name = {m.name.split(" (")[0]: m for m in MILESTONES}
    assert int(by_name["GAN"].year) == 2014 and int(by_name["DDPM"].year) == 2020
    assert int(by_name["DiT"].year) == 2022 and int(by_name["Sora"].year) == 2024
    # Each route's method comes before that route's first video model, except DiT, whose video
    # models came after the image paper too.
    for route, items in milestones_by_route().items():
        first_method = min(m.year for m in items if m.kind == "method")
        first_video = min(m.year for m in items if m.kind == "video")
        assert first_method < first_video, route


def test_figure_draws_one_marker_per_milestone():
    fig = timeline_figure()
    ax = fig.axes[0]
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(markers) == len(MILESTONES)
    labels = {text.get_text() for text in ax.texts}
    assert {m.name for m in MILESTONES} <= labels
    plt.close(fig)
    small = timeline_figure([Milestone(2014, "GAN", "a", "method"), Milestone(2020, "diffusion", "b")])
    assert sum(line.get_marker() == "o" for line in small.axes[0].lines) == 2
    plt.close(small)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="route"):
        Milestone(2020, "flow", "x")
    with pytest.raises(ValueError, match="year"):
        Milestone(1800, "GAN", "x")
    with pytest.raises(ValueError, match="kind"):
        Milestone(2020, "GAN", "x", "paper")
    with pytest.raises(ValueError, match="at least one"):
        timeline_figure([])
    with pytest.raises(TypeError, match="Milestone"):
        milestones_by_route([("2014", "GAN")])
