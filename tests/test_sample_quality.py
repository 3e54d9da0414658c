"""Tests for tinyvdm.metrics.sample_quality: frame- and clip-level scores, rule counts, the shuffle control."""

import pytest
import torch

from tinyvdm.data import BouncingShapes
from tinyvdm.diffusion import NoiseSchedule
from tinyvdm.metrics.class_fidelity import class_fidelity
from tinyvdm.metrics.sample_quality import (
    denoising_error,
    rule_counts,
    rule_of,
    report_scores,
    scene_scores,
    shuffle_between_clips,
)
from tinyvdm.metrics.scene import check_batch

pytestmark = pytest.mark.usefixtures("one_thread")


def clips(n=6, seed=1):
    return BouncingShapes(n=n, seed=seed, frames=6, size=32).batch(range(n))


def test_real_clips_score_high_and_blank_clips_zero():
    real = clips()["video"]
    scores = scene_scores(real)
    assert scores["frames_ok"] == 1.0 and scores["valid"] >= 5 / 6
    assert scores["frames_clean"] == 1.0
    blank = -torch.ones_like(real)
    scores = scene_scores(blank)
    assert scores["frames_ok"] == 0.0 and scores["valid"] == 0.0
    assert scores["frames_clean"] == 0.0
    assert scores["rules"]["no object"] == len(real)


def test_frame_level_sees_single_frames_and_clip_level_sees_time():
    real = clips()["video"]
    # Each frame from another clip: every frame still holds one clean object, yet no clip is a scene.
    (shuffled,) = shuffle_between_clips(real)
    scores = scene_scores(shuffled)
    assert scores["frames_ok"] == 1.0
    assert scores["valid"] <= 1 / 6
    assert sum(scores["rules"].values()) >= 5


def test_rule_of_reduces_reasons_to_rules():
    assert rule_of("red object changes size: area 20..50 px") == "changes size"
    assert rule_of("blue object accelerates +3.0 px/frame^2 on x at frame 2, away from any wall") == \
        "accelerates away from a wall"
    assert rule_of("green object missing in frames 0..3") == "object missing in some frames"
    assert rule_of("expected 1 objects, found 2 (red, blue)") == "wrong number of objects"
    assert rule_of("something new") == "other"
    report = check_batch(-torch.ones(3, 4, 3, 32, 32), expected_objects=1)
    assert rule_counts(report) == {"no object": 3, "wrong number of objects": 3}
    with pytest.raises(TypeError, match="BatchReport"):
        rule_counts([1, 2])


def test_shuffle_moves_frames_between_clips_and_keeps_masks_aligned():
    b, t = 4, 3
    video = torch.arange(b * t, dtype=torch.float).reshape(b, t, 1, 1, 1) * torch.ones(b, t, 1, 2, 2)
    masks = video > 5
    shuffled, shuffled_masks = shuffle_between_clips(video, masks)
    for i in range(b):
        for k in range(t):
            assert shuffled[i, k, 0, 0, 0] == ((i + k) % b) * t + k  # clip (i + k) mod b, same frame k
    assert torch.equal(shuffled_masks, shuffled > 5)
    assert torch.equal(shuffled[:, 0], video[:, 0])  # frame 0 stays
    with pytest.raises(ValueError, match="at least 2 clips"):
        shuffle_between_clips(video[:1])
    with pytest.raises(ValueError, match="same b, t"):
        shuffle_between_clips(video, masks[:, :2])


class FrameByFrame(torch.nn.Module):
    """Predicts x0 from each frame alone: a fixed per-pixel map."""

    def forward(self, x, timestep, cond=None):
        return torch.tanh(2 * x)


class AverageOfFrames(torch.nn.Module):
    """Predicts x0 as the mean over the clip's frames: leans on the other frames entirely."""

    def forward(self, x, timestep, cond=None):
        return x.mean(dim=1, keepdim=True).expand_as(x).clamp(-1, 1)


def test_shuffle_control_separates_frame_by_frame_from_frame_mixing_denoisers():
    batch = clips(8)
    video = batch["video"]
    schedule = NoiseSchedule.from_name("cosine", 100)
    steps = [10, 50]
    (shuffled,) = shuffle_between_clips(video)
    # A frame-by-frame denoiser sees the same frames (under other draws of the noise): the same error
    # up to the noise's sampling error.
    same = denoising_error(FrameByFrame(), schedule, video, steps, repeats=4, seed=3)
    moved = denoising_error(FrameByFrame(), schedule, shuffled, steps, repeats=4, seed=3)
    assert same == pytest.approx(moved, rel=0.02)
    # One that averages the frames is hurt when the frames stop showing the same object.
    static = video[:, :1].expand_as(video).contiguous()  # a clip of one repeated frame: averaging is right
    (static_shuffled,) = shuffle_between_clips(static)
    coherent = denoising_error(AverageOfFrames(), schedule, static, steps, seed=3)
    incoherent = denoising_error(AverageOfFrames(), schedule, static_shuffled, steps, seed=3)
    assert incoherent[0] > 5 * coherent[0] and (incoherent > coherent).all(), (coherent, incoherent)
    with pytest.raises(ValueError, match="repeats"):
        denoising_error(FrameByFrame(), schedule, video, steps, repeats=0)


def test_frames_clean_rejects_an_implausible_object_that_frames_ok_accepts():
    real = clips(n=2)["video"]
    big = real.clone()
    # Clip 0: a large solid square of its object's colour in place of frame 2: one object, but too big.
    colour = real[0, 0].flatten(1).max(dim=1).values  # (3,) the object's full colour
    big[0, 2] = -1.0
    big[0, 2, :, 4:28, 4:28] = colour[:, None, None]
    scores = scene_scores(big)
    assert scores["frames_ok"] == 1.0
    assert scores["frames_clean"] == (2 * 6 - 1) / (2 * 6)
    # The same per-frame test as class_fidelity's.
    assert scores["frames_clean"] == class_fidelity(big).frames_clean


def test_report_scores_reuse_a_report_made_elsewhere():
    # class_fidelity's report gives the same scores as checking the clips again.
    real = clips()["video"]
    (shuffled,) = shuffle_between_clips(real)
    for video in (real, shuffled):
        again, reused = scene_scores(video), report_scores(class_fidelity(video).report)
        assert again["rules"] == reused["rules"]
        for key in ("frames_ok", "frames_clean", "valid", "smoothness"):  # smoothness is NaN for the shuffled clips
            assert reused[key] == pytest.approx(again[key], nan_ok=True), key
    with pytest.raises(TypeError, match="report must be a scene.BatchReport"):
        report_scores({"valid": 1.0})
