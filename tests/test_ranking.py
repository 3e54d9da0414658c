"""AUROC and the ROC curve, pinned against a brute-force count over all positive-negative pairs."""

import numpy as np
import pytest
import torch

from tinyvdm.metrics.ranking import auroc, roc_curve


def pair_count_auroc(scores, labels) -> float:
    """The definition itself: the share of (positive, negative) pairs the positive wins, ties half."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    wins = 0.0
    for p in scores[labels]:
        for n in scores[~labels]:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (labels.sum() * (~labels).sum())


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_pair_count_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    labels = rng.random(n) < rng.uniform(0.2, 0.8)
    labels[:2] = [True, False]  # both classes present
    # Half of the seeds draw scores from a few levels, so many are tied, some across the classes.
    scores = rng.integers(0, 4, n).astype(float) if seed % 2 else rng.normal(size=n) + labels
    assert auroc(scores, labels) == pytest.approx(pair_count_auroc(scores, labels), abs=1e-12)


def test_known_values():
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0  # perfect ranking
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0  # perfectly backwards
    assert auroc([1.0, 1.0, 1.0, 1.0], [0, 1, 0, 1]) == 0.5  # all tied: a coin toss
    # 3 of the 4 pairs won outright: 0.75.
    assert auroc([0.3, 0.1, 0.15, 0.2], [True, False, True, False]) == pytest.approx(0.75)
    assert auroc([0.3, 0.2, 0.2, 0.1], [True, False, True, False]) == pytest.approx(0.875)  # one tie
    assert auroc([0.3, 0.5, 0.4, 0.2], [True, False, True, False]) == pytest.approx(0.5)


def test_invariant_to_monotone_transforms_and_flips_with_the_sign():
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 3 == 0
    scores = rng.normal(size=40) + 0.8 * labels
    value = auroc(scores, labels)
    assert auroc(np.exp(3 * scores) + 7, labels) == pytest.approx(value)
    assert auroc(-scores, labels) == pytest.approx(1 - value)


def test_accepts_tensors_and_lists():
    scores = torch.tensor([0.2, 0.9, 0.4, 0.7])
    labels = torch.tensor([False, True, False, True])
    assert auroc(scores, labels) == 1.0
    assert auroc(scores.tolist(), [0, 1, 0, 1]) == 1.0


def test_roc_curve_area_is_the_auroc_and_its_ends_are_fixed():
    rng = np.random.default_rng(3)
    for tied in (False, True):
        labels = rng.random(50) < 0.4
        labels[:2] = [True, False]
        scores = rng.integers(0, 5, 50).astype(float) if tied else rng.normal(size=50) + labels
        fpr, tpr, thresholds = roc_curve(scores, labels)
        assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        assert thresholds[0] == np.inf and np.all(np.diff(thresholds[1:]) < 0)
        area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
        assert area == pytest.approx(pair_count_auroc(scores, labels), abs=1e-12)
        # Each point flags exactly the samples at or above its threshold.
        k = len(thresholds) // 2
        flagged = scores >= thresholds[k]
        assert tpr[k] == pytest.approx(flagged[labels].mean())
        assert fpr[k] == pytest.approx(flagged[~labels].mean())


@pytest.mark.parametrize(
    "scores,labels,match",
    [
        ([0.1, 0.2], [1, 1], "both classes"),
        ([0.1, 0.2], [0, 0], "both classes"),
        ([0.1, 0.2, 0.3], [0, 1], r"same shape \(n,\), got \(3,\) and \(2,\)"),
        ([[0.1, 0.2]], [[0, 1]], r"scores must have shape \(n,\), got shape \(1, 2\)"),
        ([0.1, float("nan")], [0, 1], "finite"),
        ([0.1, 0.2], [0, 2], "bool or 0/1"),
        ("ab", [0, 1], "tensor, array or list"),
    ],
)
def test_bad_input_raises(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        auroc(scores, labels)
    with pytest.raises(ValueError, match=match):
        roc_curve(scores, labels)
