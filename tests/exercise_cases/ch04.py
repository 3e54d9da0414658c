"""Right and wrong answers to the exercises of chapter 04 (read by tests/test_exercises.py)."""

import torch


def count_active_units_right(posterior_means, threshold):
    variance = posterior_means.flatten(1).var(dim=0)
    return int((variance > threshold).sum())


def count_active_units_over_units(posterior_means, threshold):  # the variance across units, per clip
    return int((posterior_means.flatten(1).var(dim=1) > threshold).sum())


def count_active_units_std(posterior_means, threshold):  # a standard deviation is not a variance
    return int((posterior_means.flatten(1).std(dim=0) > threshold).sum())


def count_active_units_mean_size(posterior_means, threshold):  # a large mean is not a varying mean
    return int((posterior_means.flatten(1).pow(2).mean(dim=0) > threshold).sum())


def count_active_units_collapsed(posterior_means, threshold):  # counts the collapsed units instead
    return int((posterior_means.flatten(1).var(dim=0) <= threshold).sum())


def anneal_weight_right(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction):
    if schedule == "constant":
        return beta
    if schedule == "linear":
        return beta if warmup_steps == 0 else beta * min(1.0, step / warmup_steps)
    position = (step % cycle_steps) / cycle_steps
    return beta * min(1.0, position / ramp_fraction)


def anneal_weight_no_cap(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction):  # keeps rising past beta
    if schedule == "linear":
        return beta * step / warmup_steps
    return anneal_weight_right(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction)


def anneal_weight_off_by_one(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction):  # 1-based steps
    return anneal_weight_right(step + 1, beta, warmup_steps, schedule, cycle_steps, ramp_fraction)


def anneal_weight_ramp_whole_cycle(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction):  # ignores ramp
    if schedule == "cyclical":
        return beta * (step % cycle_steps) / cycle_steps
    return anneal_weight_right(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction)


def anneal_weight_never_restarts(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction):  # one cycle only
    if schedule == "cyclical":
        return beta * min(1.0, step / (ramp_fraction * cycle_steps))
    return anneal_weight_right(step, beta, warmup_steps, schedule, cycle_steps, ramp_fraction)


def gradient_energy_right(videos):
    dx = (videos[..., :, 1:] - videos[..., :, :-1]).pow(2).flatten(1).mean(1)
    dy = (videos[..., 1:, :] - videos[..., :-1, :]).pow(2).flatten(1).mean(1)
    return dx + dy


def gradient_energy_abs(videos):  # mean absolute difference, not squared
    dx = (videos[..., :, 1:] - videos[..., :, :-1]).abs().flatten(1).mean(1)
    dy = (videos[..., 1:, :] - videos[..., :-1, :]).abs().flatten(1).mean(1)
    return dx + dy


def gradient_energy_horizontal_only(videos):  # forgets the vertical differences
    return (videos[..., :, 1:] - videos[..., :, :-1]).pow(2).flatten(1).mean(1)


def gradient_energy_over_time(videos):  # differences between frames measure motion, not sharpness
    return (videos[:, 1:] - videos[:, :-1]).pow(2).flatten(1).mean(1)


def gradient_energy_one_mean(videos):  # pools both directions into one mean: weights them by count
    dx = (videos[..., :, 1:] - videos[..., :, :-1]).pow(2).flatten(1)
    dy = (videos[..., 1:, :] - videos[..., :-1, :]).pow(2).flatten(1)
    return 2 * torch.cat([dx, dy], dim=1).mean(1)


RIGHT = {
    "04.active_units": count_active_units_right,
    "04.kl_weight": anneal_weight_right,
    "04.gradient_energy": gradient_energy_right,
}
WRONG = {
    "04.active_units": [count_active_units_over_units, count_active_units_std, count_active_units_mean_size,
                        count_active_units_collapsed],
    "04.kl_weight": [anneal_weight_no_cap, anneal_weight_off_by_one, anneal_weight_ramp_whole_cycle,
                     anneal_weight_never_restarts],
    "04.gradient_energy": [gradient_energy_abs, gradient_energy_horizontal_only, gradient_energy_over_time,
                           gradient_energy_one_mean],
}
