"""The attention-mask viewer: it shows the library's mask, follows its controls, refuses bad input."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from tinyvdm.nn.attention import PATTERNS
from tinyvdm.viz.attention_viewer import AttentionMaskViewer, pattern_gallery, query_index, visible_keys


def expected_frames(pattern: str, frames: int, frame: int) -> set[int]:
    """The frames a query of ``frame`` reads, from the pattern's definition (written independently)."""
    return {
        "spatial": {frame},
        "temporal": set(range(frames)),
        "full": set(range(frames)),
        "causal": set(range(frame + 1)),
        "sparse-causal": {0, max(frame - 1, 0), frame},
    }[pattern]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("query", [(0, 0, 0), (3, 1, 2), (5, 2, 0)])
def test_visible_keys_follow_each_pattern_definition(pattern, query):
    frames, height, width = 6, 3, 4
    seen = visible_keys(pattern, frames, height, width, query)
    assert seen.shape == (frames, height, width) and seen.dtype == bool
    frame, row, column = query
    for k in range(frames):
        if k not in expected_frames(pattern, frames, frame):
            assert not seen[k].any(), (pattern, k)
        elif pattern == "temporal":
            only_query_position = np.zeros((height, width), dtype=bool)
            only_query_position[row, column] = True
            assert (seen[k] == only_query_position).all()
        else:
            assert seen[k].all(), (pattern, k)


def test_query_index_is_t_h_w_order():
    assert query_index(4, 3, 5, (0, 0, 0)) == 0
    assert query_index(4, 3, 5, (2, 1, 3)) == 2 * 15 + 1 * 5 + 3
    with pytest.raises(ValueError, match="query row"):
        query_index(4, 3, 5, (0, 3, 0))
    with pytest.raises(ValueError, match=r"\(frame, row, column\)"):
        query_index(4, 3, 5, (0, 1))


def test_viewer_follows_its_controls_and_keeps_the_query_inside_the_grid():
    viewer = AttentionMaskViewer("spatial", frames=6, height=4, width=4, query=(5, 1, 1))
    first_image, first_info = viewer.image.value, viewer.info.value
    assert "reads 16 of 96 tokens" in first_info and "frames [5]" in first_info
    viewer.pattern_menu.value = "causal"
    assert viewer.image.value != first_image
    assert "reads 96 of 96" in viewer.info.value
    viewer.frames_slider.value = 3  # the query's frame 5 no longer exists
    assert viewer.query[0] == 2 and viewer.frame_slider.max == 2
    assert viewer.visible().shape == (3, 4, 4)
    viewer.height_slider.value = 1
    assert viewer.query[1] == 0
    fig = viewer.static_figure()
    assert len(fig.axes) == 2 * len(PATTERNS)
    plt.close(fig)


def test_bad_arguments_are_refused_with_the_expected_range():
    with pytest.raises(ValueError, match="pattern must be one of"):
        AttentionMaskViewer("diagonal")
    with pytest.raises(ValueError, match=r"frames must be an int in \[1, 16\]"):
        AttentionMaskViewer(frames=0)
    with pytest.raises(ValueError, match="query frame"):
        AttentionMaskViewer(frames=4, query=(4, 0, 0))
    with pytest.raises(ValueError, match="patterns must be"):
        pattern_gallery(patterns=("spatial", "dilated"))
