"""Right and wrong answers to the exercises of chapter 01 (read by tests/test_exercises.py)."""

import torch


def mode_coverage_right(points, centres, radius, min_share):
    distance, nearest = torch.cdist(points, centres).min(dim=1)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    threshold = max(1.0, min_share * len(points) / len(centres))
    return (counts >= threshold).float().mean().item(), counts


def mode_coverage_no_radius(points, centres, radius, min_share):  # far-off points still count for a mode
    nearest = torch.cdist(points, centres).argmin(dim=1)
    counts = torch.bincount(nearest, minlength=len(centres))
    threshold = max(1.0, min_share * len(points) / len(centres))
    return (counts >= threshold).float().mean().item(), counts


def mode_coverage_no_floor(points, centres, radius, min_share):  # with min_share 0 an empty mode is "covered"
    distance, nearest = torch.cdist(points, centres).min(dim=1)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    return (counts >= min_share * len(points) / len(centres)).float().mean().item(), counts


def mode_coverage_share_of_all(points, centres, radius, min_share):  # min_share of all points, not of n / k
    distance, nearest = torch.cdist(points, centres).min(dim=1)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    return (counts >= max(1.0, min_share * len(points))).float().mean().item(), counts


def mode_coverage_count_not_fraction(points, centres, radius, min_share):  # how many modes, not which share
    distance, nearest = torch.cdist(points, centres).min(dim=1)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    threshold = max(1.0, min_share * len(points) / len(centres))
    return (counts >= threshold).sum().item(), counts


def mode_coverage_squared_distance(points, centres, radius, min_share):  # compares squared distance with radius
    distance, nearest = torch.cdist(points, centres).pow(2).min(dim=1)
    counts = torch.bincount(nearest[distance <= radius], minlength=len(centres))
    threshold = max(1.0, min_share * len(points) / len(centres))
    return (counts >= threshold).float().mean().item(), counts


def to_tokens_right(points, bins, low, high):
    width = (high - low) / bins
    return torch.floor((points - low) / width).clamp(0, bins - 1).long()


def to_tokens_round(points, bins, low, high):  # nearest bin edge, not the bin the point is in
    width = (high - low) / bins
    return torch.round((points - low) / width).clamp(0, bins - 1).long()


def to_tokens_no_clamp(points, bins, low, high):  # points outside [low, high) get tokens that do not exist
    width = (high - low) / bins
    return torch.floor((points - low) / width).long()


def to_tokens_bins_minus_one(points, bins, low, high):  # bins - 1 intervals, as if the edges were the bins
    width = (high - low) / (bins - 1)
    return torch.floor((points - low) / width).clamp(0, bins - 1).long()


def to_tokens_forgot_low(points, bins, low, high):  # measures from 0, not from the grid's low end
    width = (high - low) / bins
    return torch.floor(points / width).clamp(0, bins - 1).long()


def sample_token_right(logits, uniform, temperature):
    cdf = torch.softmax(logits / temperature, dim=1).cumsum(dim=1)
    return (cdf <= uniform[:, None]).sum(dim=1).clamp(max=logits.shape[1] - 1)


def sample_token_no_temperature(logits, uniform, temperature):
    cdf = torch.softmax(logits, dim=1).cumsum(dim=1)
    return (cdf <= uniform[:, None]).sum(dim=1).clamp(max=logits.shape[1] - 1)


def sample_token_temperature_times(logits, uniform, temperature):  # multiplies instead of dividing
    cdf = torch.softmax(logits * temperature, dim=1).cumsum(dim=1)
    return (cdf <= uniform[:, None]).sum(dim=1).clamp(max=logits.shape[1] - 1)


def sample_token_argmax(logits, uniform, temperature):  # greedy: ignores the uniforms
    return logits.argmax(dim=1)


def sample_token_no_softmax(logits, uniform, temperature):  # a running sum of raw logits is no CDF
    cdf = (logits / temperature).cumsum(dim=1)
    return (cdf <= uniform[:, None]).sum(dim=1).clamp(0, logits.shape[1] - 1)


def sample_token_reversed(logits, uniform, temperature):  # counts from the top end of the CDF
    cdf = torch.softmax(logits / temperature, dim=1).cumsum(dim=1)
    return (cdf > uniform[:, None]).sum(dim=1).clamp(max=logits.shape[1] - 1)


RIGHT = {
    "01.mode_coverage": mode_coverage_right,
    "01.to_tokens": to_tokens_right,
    "01.sample_token": sample_token_right,
}
WRONG = {
    "01.mode_coverage": [mode_coverage_no_radius, mode_coverage_no_floor, mode_coverage_share_of_all,
                         mode_coverage_count_not_fraction, mode_coverage_squared_distance],
    "01.to_tokens": [to_tokens_round, to_tokens_no_clamp, to_tokens_bins_minus_one, to_tokens_forgot_low],
    "01.sample_token": [sample_token_no_temperature, sample_token_temperature_times, sample_token_argmax,
                        sample_token_no_softmax, sample_token_reversed],
}
