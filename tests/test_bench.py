"""The benchmark command: FLOP counting, MFU arithmetic, the CLI and the peer loader."""

import json
import sys

import pytest
import torch
from torch import nn

from tinyvdm import bench


class Linear(nn.Module):
    """A denoiser-shaped model whose FLOPs are known by hand."""

    def __init__(self, features):
        super().__init__()
        self.layer = nn.Linear(features, features, bias=False)

    def forward(self, x, timestep, cond=None):
        return self.layer(x)


def test_training_flops_counts_forward_and_backward():
    # Forward 2*m*k*n; backward 2*m*k*n for the weight gradient. The input gradient (another
    # 2*m*k*n) is never computed: the clip is data, it does not require a gradient.
    b, t, c, h, w = 2, 3, 1, 4, 8
    model = Linear(w)
    rows = b * t * c * h
    assert bench.training_flops(model, (b, t, c, h, w)) == 2 * 2 * rows * w * w


def test_training_flops_of_the_unet_is_three_forwards():
    from tinyvdm.models.unet import UNet

    model = UNet.from_name("tiny", temporal=None)
    shape = (1, 2, 3, 16, 16)
    forward = model.flops_per_forward(shape)
    total = bench.training_flops(model, shape)
    # The stem's input gradient is not needed (x does not require grad): slightly under 3x.
    assert 2.8 * forward < total <= 3 * forward


def test_benchmark_training_reports_consistent_numbers():
    model = Linear(16)
    result = bench.benchmark_training(model, "linear", (4, 2, 1, 4, 16), ceiling=1e9, steps=2, warmup=1)
    assert result.parameters == 16 * 16
    assert result.frames_per_second == pytest.approx(8 / result.seconds_per_step)
    assert result.clips_per_second == pytest.approx(4 / result.seconds_per_step)
    assert result.mfu == pytest.approx(result.flops_per_step / result.seconds_per_step / 1e9)
    assert result.precision == "fp32"


def test_benchmark_sampling_checks_the_sampler():
    model = Linear(8)
    result = bench.benchmark_sampling(model, "linear", (2, 2, 1, 2, 8), "ddim", 3)
    assert result.steps == 3 and result.clips == 2 and result.seconds > 0
    with pytest.raises(ValueError, match="every step of the schedule"):
        bench.benchmark_sampling(model, "linear", (2, 2, 1, 2, 8), "ddpm", 50)
    renoised = bench.benchmark_sampling(model, "linear", (2, 2, 1, 2, 8), "renoise", 3)
    assert renoised.sampler == "renoise" and renoised.steps == 3 and renoised.seconds > 0
    with pytest.raises(ValueError, match="'ddpm', 'ddim' or 'renoise'"):
        bench.benchmark_sampling(model, "linear", (2, 2, 1, 2, 8), "euler", 50)


def test_measure_ceiling_is_positive():
    ceiling = bench.measure_ceiling(repeats=1)
    assert set(ceiling) == {"matmul", "conv", "best"}
    assert ceiling["best"] == max(ceiling["matmul"], ceiling["conv"]) > 1e8


@pytest.mark.parametrize("name", ["unet-huge", "unet-small-lstm", "unet", "vae-small"])
def test_build_model_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="unet-<size>"):
        bench.build_model(name)


@pytest.mark.parametrize("name", ["dit-small", "dit-S/4-temporal", "uvit-huge"])
def test_build_model_rejects_unknown_transformers(name):
    with pytest.raises(ValueError, match="<size>"):
        bench.build_model(name)


def test_build_model_builds_the_transformers_with_their_attention():
    from tinyvdm.models.dit import DiT
    from tinyvdm.models.uvit import UViT

    dit = bench.build_model("dit-tiny/4-full")
    assert isinstance(dit, DiT) and dit.config.attention == "full" and dit.config.patch_size == 4
    assert bench.build_model("dit-S/2").config.patch_size == 2
    assert isinstance(bench.build_model("uvit-tiny-spatial"), UViT)


def test_build_model_switches_the_temporal_layer():
    assert bench.build_model("unet-tiny-none").config.temporal is None
    assert bench.build_model("unet-tiny-conv").config.temporal == "conv"
    assert bench.build_model("unet-compact").config.patch_size == 2
    # Chapter 07's dense frame mix is tied to one clip length, which the benchmark passes on.
    mix = bench.build_model("unet-tiny-mix", frames=6)
    assert mix.config.temporal == "mix" and mix.config.frames == 6
    with torch.no_grad():
        assert mix(torch.randn(1, 6, 3, 16, 16), torch.tensor([5])).shape == (1, 6, 3, 16, 16)


def test_default_models_of_the_command_all_build():
    # The command with no --models must run: every default name has to name a real model.
    names = bench.build_parser().parse_args([]).models.split(",")
    assert "unet-wide" in names
    for name in names:
        assert sum(p.numel() for p in bench.build_model(name).parameters()) > 0


def test_command_line_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--models", "unet-tiny", "--batch", "1", "--frames", "2", "--size", "16", "--steps", "1",
                "--sample", "ddim:2", "--sample-batch", "1", "--json", str(out)])
    text = capsys.readouterr().out
    assert "unet-tiny" in text and "MFU" in text and "ddim" in text
    report = json.loads(out.read_text())
    assert report["train"][0]["model"] == "unet-tiny"
    assert report["train"][0]["flops_per_step"] > 0
    assert report["sample"][0]["steps"] == 2
    with pytest.raises(SystemExit, match="--batch"):
        bench.main(["--models", "unet-tiny", "--batch", "0"])


def test_placeholder_torchvision_builds_but_refuses_to_run(monkeypatch):
    for name in ("torchvision", "torchvision.transforms", "torchvision.utils"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    root = bench._torchvision_placeholder()
    try:
        to_tensor = root.transforms.ToTensor()  # built at import time by the peer: must work
        with pytest.raises(RuntimeError, match="placeholder"):
            to_tensor(torch.zeros(1))
    finally:
        for name in ("torchvision", "torchvision.transforms", "torchvision.utils"):
            sys.modules.pop(name, None)


def test_peer_adapter_swaps_time_and_channels():
    seen = {}

    class ChannelsFirst(nn.Module):
        def forward(self, x, time):
            seen["shape"] = tuple(x.shape)
            return x * 2

    model = bench.ChannelsFirstVideo(ChannelsFirst())
    x = torch.randn(2, 5, 3, 4, 4)
    torch.testing.assert_close(model(x, torch.zeros(2)), 2 * x)
    assert seen["shape"] == (2, 3, 5, 4, 4)


def test_attention_table_has_every_pattern_and_prices_full_attention_quadratically():
    from tinyvdm.nn.attention import PATTERNS

    rows = bench.attention_table(frames=(2, 4), height=2, width=2, dim=16, heads=2, repeats=1)
    assert [(r["pattern"], r["frames"]) for r in rows] == [(p, t) for p in PATTERNS for t in (2, 4)]
    by = {(r["pattern"], r["frames"]): r for r in rows}
    full_attention = [by["full", t]["flops"] - by["spatial", t]["flops"] for t in (2, 4)]
    assert full_attention[1] > 3 * full_attention[0] > 0  # the (n, n) part grows with n^2
    assert all(r["seconds"] > 0 and r["saved_bytes"] > 0 for r in rows)
    text = bench.format_report(bench.Report(device="cpu", threads=1, torch="x", ceiling={"best": 1e9},
                                            attention=rows))
    assert "sparse-causal" in text and "plain MB" in text


def test_call_flops_counts_a_matmul_and_rejects_non_callables():
    a, b = torch.randn(3, 4), torch.randn(4, 5)
    assert bench.call_flops(lambda: a @ b) == 2 * 3 * 4 * 5
    with pytest.raises(TypeError, match="callable"):
        bench.call_flops(42)
