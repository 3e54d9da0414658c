"""Tests for tinyvdm.data.defects: each defect is what it says, where it says, and nothing else changes."""

import numpy as np
import pytest
import torch

from tinyvdm.data import BouncingShapes, render
from tinyvdm.data.defects import CUT_LABELS, DEFECTS, CutClips, DefectClips, apply_defect, check_shots


def clip(i=0, frames=8, size=32):
    return BouncingShapes(16, seed=4, frames=frames, size=size)[i]


def changed_frames(a: torch.Tensor, b: torch.Tensor) -> list[int]:
    return [k for k in range(a.shape[0]) if not torch.equal(a[k], b[k])]


def test_clean_is_an_unchanged_copy():
    item = clip()
    out = apply_defect(item, "clean", 3)
    assert torch.equal(out["video"], item["video"]) and out["video"] is not item["video"]
    assert int(out["defect"]) == 0 and int(out["defect_frame"]) == -1 and not out["defect_mask"].any()


@pytest.mark.parametrize("frame", [1, 4, 7])
def test_teleport_jumps_far_at_the_frame_and_then_keeps_moving(frame):
    item = clip(1)
    out = apply_defect(item, "teleport", frame, np.random.default_rng(0))
    assert changed_frames(out["video"], item["video"])[0] == frame  # frames before the jump untouched
    old, new = item["trajectory"][:, 0], out["trajectory"][:, 0]
    assert torch.equal(new[:frame], old[:frame])
    assert (new[frame] - old[frame]).norm() >= 32 / 3
    # The drawn clip is the object rendered along the new trajectory, and it still moves after the jump.
    drawn, _ = render(new[:, None], [int(item["shape"][0])], [int(item["colour"][0])], item["radius"][:1], 32)
    torch.testing.assert_close(out["video"], drawn)
    if frame < 7:
        assert (new[frame + 1] - new[frame]).norm() > 0.5
    assert int(out["defect"]) == DEFECTS.index("teleport") and int(out["defect_frame"]) == frame


@pytest.mark.parametrize("frame", [1, 5, 7])
def test_freeze_repeats_the_previous_frame_only(frame):
    item = clip(2)
    out = apply_defect(item, "freeze", frame)
    assert changed_frames(out["video"], item["video"]) == [frame]
    assert torch.equal(out["video"][frame], item["video"][frame - 1])
    assert torch.equal(out["masks"][frame], item["masks"][frame - 1])
    assert torch.equal(out["trajectory"][frame], item["trajectory"][frame - 1])
    assert torch.equal(out["defect_mask"][frame], item["masks"][frame - 1, 0])


def test_flicker_recolours_the_object_in_one_frame():
    item = clip(3)
    out = apply_defect(item, "flicker", 2, np.random.default_rng(1))
    assert changed_frames(out["video"], item["video"]) == [2]
    assert torch.equal(out["masks"], item["masks"])  # same place, same silhouette
    inside = item["masks"][2, 0]
    before, after = item["video"][2][:, inside].mean(dim=1), out["video"][2][:, inside].mean(dim=1)
    assert (before - after).abs().max() > 0.3  # another colour, not a shade of the same one


def test_dropout_removes_the_object_from_one_frame():
    item = clip(4)
    out = apply_defect(item, "dropout", 3)
    assert changed_frames(out["video"], item["video"]) == [3]
    assert (out["video"][3] == -1).all()  # background only
    assert torch.equal(out["defect_mask"][3], item["masks"][3, 0])  # where the object should have been
    assert not out["defect_mask"][[0, 1, 2, 4, 5, 6, 7]].any()


def test_glitch_covers_one_block_of_one_frame_with_noise():
    item = clip(5)
    out = apply_defect(item, "glitch", 6, np.random.default_rng(2))
    assert changed_frames(out["video"], item["video"]) == [6]
    block = out["defect_mask"][6]
    assert int(block.sum()) == 8 * 8 and block.any(dim=0).sum() == 8 and block.any(dim=1).sum() == 8  # one square
    outside = (out["video"][6] != item["video"][6]).any(dim=0) & ~block
    assert not outside.any()  # nothing changes outside the block
    noise = out["video"][6][:, block]
    assert noise.std() > 0.4 and noise.min() >= -1 and noise.max() <= 1


def test_duplicate_adds_a_second_copy_far_from_the_object():
    item = clip(6)
    out = apply_defect(item, "duplicate", 2, np.random.default_rng(3))
    assert changed_frames(out["video"], item["video"]) == [2]
    copy = out["defect_mask"][2]
    assert not (copy & item["masks"][2, 0]).any()  # apart from the object
    assert abs(int(copy.sum()) - int(item["masks"][2, 0].sum())) <= 2  # the same shape and size
    lit = (out["video"][2] > -0.5).any(dim=0)
    assert lit[copy].float().mean() > 0.9 and lit[item["masks"][2, 0]].float().mean() > 0.9  # both on screen
    assert torch.equal(out["masks"], item["masks"])  # a copy is not an object of the clip


def test_bad_arguments_are_refused():
    item = clip()
    with pytest.raises(ValueError, match="kind must be one of"):
        apply_defect(item, "blur", 2)
    with pytest.raises(ValueError, match="frame must be in 1..7"):
        apply_defect(item, "freeze", 0)
    with pytest.raises(ValueError, match="exactly one object"):
        apply_defect(BouncingShapes(4, seed=0, min_objects=2, max_objects=2)[0], "freeze", 1)
    with pytest.raises(ValueError, match="BouncingShapes item"):
        apply_defect({"video": item["video"]}, "freeze", 1)
    with pytest.raises(ValueError, match="no place 100.0 px away"):
        apply_defect(item, "teleport", 2, min_jump=100)
    with pytest.raises(ValueError, match="kinds must be two or more distinct names"):
        DefectClips(8, kinds=("clean", "clean"))
    with pytest.raises(ValueError, match="one-object"):
        DefectClips(8, max_objects=2)
    with pytest.raises(ValueError, match=r"summing to frames=8, got \(3, 3, 3\)"):
        CutClips(8, shots=(3, 3, 3))
    with pytest.raises(ValueError, match="three frame counts >= 1"):
        check_shots(8, (4, 0, 4))


def test_defect_clips_are_seeded_balanced_and_built_on_bouncing_shapes():
    data = DefectClips(400, seed=7, frames=6, size=32)
    batch = data.batch(range(400))
    counts = torch.bincount(batch["defect"], minlength=len(DEFECTS))
    assert counts.min() > 35, counts  # 57 expected per kind
    assert torch.equal(data[5]["video"], DefectClips(400, seed=7, frames=6, size=32)[5]["video"])
    # Item i is BouncingShapes item i with its defect; a clean one is exactly that clip.
    plain = BouncingShapes(400, seed=7, frames=6, size=32)
    clean = int(torch.nonzero(batch["defect"] == 0)[0])
    assert torch.equal(data[clean]["video"], plain[clean]["video"])
    for i in range(40):
        kind, frame = DEFECTS[int(batch["defect"][i])], int(batch["defect_frame"][i])
        changed = changed_frames(batch["video"][i], plain[i]["video"])
        if kind == "clean":
            assert changed == [] and frame == -1
        else:
            assert 1 <= frame < 6 and changed[0] == frame, (kind, frame, changed)
    two = DefectClips(40, seed=7, kinds=("clean", "freeze"), frames=6)
    assert set(two.batch(range(40))["defect"].tolist()) == {0, 1}


def test_cut_clips_show_the_same_object_or_a_recoloured_one_across_the_cuts():
    data = CutClips(200, seed=2, frames=8, size=32)
    assert data.shots == (3, 2, 3)
    batch = data.batch(range(200))
    labels = batch["label"]
    assert 70 < int(labels.sum()) < 130  # half of them changed
    assert torch.equal(batch["shot"][0], torch.tensor([0, 0, 0, 1, 1, 2, 2, 2]))
    same = batch["colour"][:, 0] == batch["colour"][:, 2]
    assert torch.equal(same, labels == 0)  # label 1 = changed colour, never the same
    assert torch.equal(batch["shape"][:, 0], batch["shape"][:, 2])
    # The colour on screen is the object's: mean colour inside the mask, first frame vs last frame.
    for i in range(20):
        video, masks = batch["video"][i], batch["masks"][i, :, 0]
        first = video[0][:, masks[0]].mean(dim=1)
        last = video[-1][:, masks[-1]].mean(dim=1)
        assert ((first - last).abs().max() > 0.3) == bool(labels[i]), i
    assert len(CUT_LABELS) == 2
    assert CutClips(4, frames=12).shots == (4, 3, 5)
