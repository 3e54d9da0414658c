"""How well a score ranks anomalies above normal samples: the ROC curve and the area under it.

Taught in chapter 02 (VAE), where a video VAE's reconstruction error is used as an anomaly score
for corrupted clips. AUROC is the probability that a randomly chosen positive (anomalous) sample
scores higher than a randomly chosen negative (normal) one, ties counting one half: the
Mann-Whitney U statistic divided by the number of pairs (Hanley & McNeil 1982). 0.5 is a coin
toss, 1.0 a perfect separation, and below 0.5 the score ranks the wrong way round.

The pair count is ``O(n_pos * n_neg)``; :func:`auroc` gets the same number from the ranks of the
pooled scores in ``O(n log n)``, with tied scores given their average rank.
"""

from __future__ import annotations

import numpy as np
import torch


def _check_scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """float64 scores ``(n,)`` and bool labels ``(n,)``, or a ValueError naming what was wrong."""
    arrays = []
    for name, value in (("scores", scores), ("labels", labels)):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        elif isinstance(value, (list, tuple)):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{name} must be a 1-D tensor, array or list, got {type(value).__name__}")
        if value.ndim != 1:
            raise ValueError(f"{name} must have shape (n,), got shape {value.shape}")
        arrays.append(value)
    scores, labels = arrays
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same shape (n,), got {scores.shape} and {labels.shape}")
    if not (np.issubdtype(scores.dtype, np.number) and not np.issubdtype(scores.dtype, np.complexfloating)):
        raise ValueError(f"scores must be real numbers, got dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"scores must be finite, got {int((~np.isfinite(scores)).sum())} NaN or infinite values")
    if labels.dtype != np.bool_:
        if not np.issubdtype(labels.dtype, np.number) or not np.isin(labels, (0, 1)).all():
            raise ValueError(f"labels must be bool or 0/1 (1 = positive), got values {np.unique(labels)[:5]}")
        labels = labels.astype(bool)
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise ValueError(f"labels must contain both classes, got {positives} positives and "
                         f"{len(labels) - positives} negatives")
    return scores, labels


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` ``(n,)``, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Start of each run of equal values, and its length.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    lengths = np.diff(np.r_[starts, len(values)])
    run_ranks = starts + (lengths + 1) / 2.0  # ranks start..start+len-1, 1-based, averaged
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(run_ranks, lengths)
    return ranks


def auroc(scores, labels) -> float:
    """Area under the ROC curve of ``scores`` ``(n,)`` for ``labels`` ``(n,)`` (True / 1 = positive).

    Higher scores should mean "more likely positive". Equals
    ``P(score_pos > score_neg) + 0.5 * P(score_pos == score_neg)`` over all positive-negative
    pairs: the rank-sum form of the Mann-Whitney U statistic.
    """
    scores, labels = _check_scores_labels(scores, labels)
    ranks = _average_ranks(scores)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0  # pairs a positive wins, ties half
    return float(u / (n_pos * n_neg))


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(false positive rate, true positive rate, thresholds)``, each ``(k + 1,)``, for plotting.

    Point ``i`` flags every sample scoring ``>= thresholds[i]``; the thresholds are the distinct
    scores in decreasing order, after a first point ``(0, 0)`` at threshold ``+inf``. The
    trapezoid area under the curve equals :func:`auroc` (ties make diagonal segments, worth half).
    """
    scores, labels = _check_scores_labels(scores, labels)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # The last index of each run of equal scores: a threshold flags whole runs at once.
    ends = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    true_positives = np.cumsum(sorted_labels)[ends]
    false_positives = (ends + 1) - true_positives
    tpr = np.r_[0.0, true_positives / labels.sum()]
    fpr = np.r_[0.0, false_positives / (~labels).sum()]
    thresholds = np.r_[np.inf, sorted_scores[ends]]
    return fpr, tpr, thresholds
