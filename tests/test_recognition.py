"""The judge of chapters 03-05: it names real objects, rejects junk, and checks its inputs."""

import pytest
import torch

from tinyvdm.data.bouncing_shapes import BouncingShapes, BouncingShapesConfig
from tinyvdm.metrics.recognition import JUNK_KINDS, JudgeNet, ObjectJudge, junk_clips, recognition_report

CONFIG = BouncingShapesConfig(frames=2, size=16, colours=("red", "blue"), shapes=("circle", "square"))


@pytest.fixture(scope="module")
def judge():
    torch.manual_seed(0)
    return ObjectJudge.fit(CONFIG, clips=256, steps=120, seed=0, held_out=64)


def test_judge_names_real_colours_and_rejects_junk(judge):
    assert judge.held_out_accuracy["colour"] > 0.9
    assert judge.held_out_accuracy["junk_rejected"] > 0.8
    real = BouncingShapes(64, config=CONFIG, seed=5).batch(range(64))["video"]
    noise = torch.randn_like(real).clamp(-1, 1)
    real_report, noise_report = recognition_report(judge, real, 0.5), recognition_report(judge, noise, 0.5)
    assert real_report.colour_rate > 0.8
    assert noise_report.rate < 0.1 and noise_report.reject_rate > 0.8
    assert recognition_report(judge, torch.full_like(real, -1.0), 0.5).rate < 0.1  # nothing drawn


def test_report_counts_classes_and_entropy(judge):
    real = BouncingShapes(64, config=CONFIG, seed=6).batch(range(64))["video"]
    report = recognition_report(judge, real, 0.5)
    assert report.counts.shape == (2, 2) and int(report.counts.sum()) == round(report.rate * 64)
    # One clip repeated: at most one class, zero entropy.
    single = recognition_report(judge, real[:1].repeat(8, 1, 1, 1, 1), 0.5)
    assert (single.counts > 0).sum() <= 1 and single.entropy_bits == 0.0
    assert report.max_entropy_bits == pytest.approx(2.0)


def test_junk_has_every_kind_and_real_range():
    real = BouncingShapes(10, config=CONFIG, seed=1).batch(range(10))["video"]
    junk = junk_clips(real, torch.Generator().manual_seed(0))
    assert junk.shape == real.shape and junk.min() >= -1 and junk.max() <= 1
    assert torch.equal(junk[len(JUNK_KINDS) - 1], torch.full_like(real[0], -1.0))


def test_bad_inputs_are_named(judge):
    with pytest.raises(ValueError, match="expected videos of shape"):
        judge.probabilities(torch.zeros(2, 3, 3, 16, 16))
    with pytest.raises(ValueError, match="threshold"):
        recognition_report(judge, torch.zeros(2, 2, 3, 16, 16), 1.5)
    with pytest.raises(ValueError, match="one object"):
        ObjectJudge(judge.model, BouncingShapesConfig(max_objects=2))
    with pytest.raises(ValueError, match="multiple of 4"):
        JudgeNet(5, width=6)


def test_fit_is_the_same_whatever_the_global_random_state():
    # A judge is fitted in several chapters after different amounts of other work: its initial
    # weights must come from its own seed, or each chapter would judge with a different network.
    weights = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        fitted = ObjectJudge.fit(CONFIG, clips=64, steps=2, seed=3, held_out=4)
        weights.append(torch.cat([p.detach().flatten() for p in fitted.model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_fit_names_shapes_whatever_the_seed():
    # Without a norm after each convolution the recipe was a lottery over seeds: at 300 steps on
    # the chapters' data seed 0 named 99% of held-out shapes but seeds 1 and 2 only 68% and 65%.
    # Here, at 32 px and a 40-step budget, seed 1 named 52% of shapes and rejected 35% of junk
    # with the old network, and 95% / 99% with the GroupNorm one (seeds 1-3 all above 85%).
    config = BouncingShapesConfig(frames=1, size=32, colours=("red", "blue"), shapes=("circle", "square"))
    fitted = ObjectJudge.fit(config, clips=256, steps=40, seed=1, held_out=128)
    assert fitted.held_out_accuracy["shape"] > 0.8
    assert fitted.held_out_accuracy["colour"] > 0.95
    assert fitted.held_out_accuracy["junk_rejected"] > 0.9
