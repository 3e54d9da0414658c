"""``python -m tinyvdm.bench``: how fast the course's denoisers train and sample on this machine.

Used by chapter 07 (the UNet's speed table) and the README. For each model it measures

- training: optimizer steps per second on a fixed batch, as clips/s and frames/s;
- FLOPs per training step, counted with ``torch.utils.flop_counter.FlopCounterMode`` on a copy of
  the model on the meta device (forward and backward; every matmul, convolution and attention is
  visible there; elementwise ops and norms are not counted, as is the convention for MFU);
- MFU, model FLOPs utilisation: achieved FLOP/s over the machine's ceiling. The ceiling is
  measured at start-up (the best of a large fp32 matmul and a wide 3x3 convolution, the two
  kernels these models spend their FLOPs in) or given with ``--ceiling``. Under bf16 autocast
  the FLOPs run in bf16, so MFU is then quoted against the measured *bf16* ceiling;
- sampling: wall time of a full DDPM run (1000 steps), of DDIM with 100/50/20/10 steps and of
  chapter 07's re-noising sampler with 50 (the same network calls as DDIM's 50; the pair of
  rows shows what the two samplers' own per-step arithmetic costs beside them).

The optional peer is ``Unet3D`` from the ``video-diffusion-pytorch`` package (``make bench-peer``
installs it; see the README for why it is not a pip extra), built at the size the course compares
with (dim 32, mults 1-2-4) and run on the same clips. Its package imports torchvision for a data
pipeline the benchmark never calls; torchvision would pull a second, multi-GB torch build, so when
torchvision is absent the peer is loaded with a placeholder module that fails if anything in it is
ever used.

The numbers are medians over repeated steps after warm-up. This machine is shared and noisy:
compare models measured in the same run, and run one benchmark at a time.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import statistics
import sys
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tinyvdm.diffusion import NoiseSchedule
from tinyvdm.diffusion.samplers.ddim import DDIMSampler
from tinyvdm.diffusion.samplers.ddpm import DDPMSampler
from tinyvdm.diffusion.samplers.renoise import RenoiseSampler
from tinyvdm.io import atomic_path
from tinyvdm.profile import autocast, get_device

REFERENCE_CEILING = 215e9  # MACHINE.md: fp32 through oneDNN on the course's 2-core CPU


# --- the ceiling -------------------------------------------------------------------------------


def _timings(fn, repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    return statistics.median(_timings(fn, repeats, warmup))


def _best_seconds(fn, repeats: int, warmup: int = 1) -> float:
    return min(_timings(fn, repeats, warmup))


def measure_ceiling(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
                    repeats: int = 5) -> dict[str, float]:
    """FLOP/s of a 2048^2 matmul and of a 256-channel 3x3 convolution; ``best`` is the ceiling.

    Both are large enough to be compute-bound, so they show what the hardware sustains on the
    two kernels the denoisers spend their FLOPs in. On a GPU the tensors live on ``device``.
    """
    device = torch.device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    n = 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def matmul():
        torch.mm(a, b)
        sync()

    matmul_rate = 2 * n**3 / _median_seconds(matmul, repeats)
    channels, size, batch = 256, 16, 16
    x = torch.randn(batch, channels, size, size, device=device, dtype=dtype)
    weight = torch.randn(channels, channels, 3, 3, device=device, dtype=dtype)

    def conv():
        F.conv2d(x, weight, padding=1)
        sync()

    conv_rate = 2 * batch * channels * channels * 9 * size * size / _median_seconds(conv, repeats)
    return {"matmul": matmul_rate, "conv": conv_rate, "best": max(matmul_rate, conv_rate)}


# --- counting FLOPs ----------------------------------------------------------------------------


def training_flops(model: nn.Module, x_shape: tuple[int, ...], num_steps: int = 1000) -> int:
    """FLOPs of one forward and backward pass of ``model(x, timestep)`` on ``x_shape``.

    Counted on a deep copy moved to the meta device: nothing is computed or allocated, and the
    counter sees every matmul, convolution and attention (on real CPU tensors it cannot see
    inside the fused attention kernels).
    """
    try:
        return _count(copy.deepcopy(model).to("meta"), x_shape, "meta")
    except RuntimeError:
        # Some models read a tensor's value while they run (``.item()``), which the meta device
        # cannot answer: count on a real CPU copy then (slower; its attention is einsum-based or
        # the count would miss the fused kernels, which is why meta comes first).
        return _count(copy.deepcopy(model).to("cpu"), x_shape, "cpu")


def call_flops(fn) -> int:
    """FLOPs of one call ``fn()`` without gradients, counted by ``FlopCounterMode`` (2 per multiply-add).

    Runs ``fn`` on whatever tensors it closes over. On CPU tensors the counter cannot see inside
    the fused attention kernels, so for a model with attention prefer its meta-device count
    (``UNet.flops_per_forward``, :func:`tinyvdm.nn.transformer.forward_flops`).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _count(model: nn.Module, x_shape: tuple[int, ...], device: str) -> int:
    x = torch.zeros(*x_shape, device=device)
    timestep = torch.zeros(x_shape[0], dtype=torch.long, device=device)
    with FlopCounterMode(display=False) as counter:
        model(x, timestep).float().pow(2).mean().backward()
    return counter.get_total_flops()


# --- the models --------------------------------------------------------------------------------


class ChannelsFirstVideo(nn.Module):
    """Adapts a denoiser that takes ``(b, c, t, h, w)`` to the course's ``(b, t, c, h, w)`` call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, cond=None) -> torch.Tensor:
        out = self.model(x.transpose(1, 2), timestep.float())  # (b, c, t, h, w)
        return out.transpose(1, 2)  # (b, t, c, h, w)


def _torchvision_placeholder() -> types.ModuleType:
    """A ``torchvision`` whose every attribute is a class whose instances refuse to be used.

    Building one must work (the peer's module builds a ``ToTensor()`` as a default argument at
    import time); calling it raises.
    """

    def refuse(name):
        class Unavailable:
            def __init__(self, *args, **kwargs):
                pass

            def __call__(self, *args, **kwargs):
                raise RuntimeError(f"torchvision.{name} is a placeholder: the benchmark never uses the "
                                   "peer's data pipeline; install torchvision to use it")

        return Unavailable

    root = types.ModuleType("torchvision")
    for sub in ("transforms", "utils"):
        module = types.ModuleType(f"torchvision.{sub}")
        module.__getattr__ = lambda attr, sub=sub: _placeholder_attribute(sub, attr, refuse)
        setattr(root, sub, module)
        sys.modules[f"torchvision.{sub}"] = module
    sys.modules["torchvision"] = root
    return root


def _placeholder_attribute(sub: str, attr: str, refuse):
    # Dunder lookups (__file__, __path__, ...) come from tools that inspect modules: answer them
    # as a plain module would, or those tools mistake the placeholder for something else.
    if attr.startswith("__"):
        raise AttributeError(attr)
    return refuse(f"{sub}.{attr}")


def load_peer(dim: int = 32, dim_mults: tuple[int, ...] = (1, 2, 4)) -> nn.Module:
    """video-diffusion-pytorch's ``Unet3D`` behind the course's ``(b, t, c, h, w)`` call.

    Raises ``ImportError`` with the install command when the package is missing.
    """
    placeholder = False
    try:
        importlib.import_module("torchvision")
    except ImportError:
        _torchvision_placeholder()
        placeholder = True
    try:
        from video_diffusion_pytorch import Unet3D
    except ImportError as error:
        raise ImportError(f"the peer model needs the video-diffusion-pytorch package ({error}); "
                          "install it with `make bench-peer`") from error
    finally:
        if placeholder:
            # The peer's module keeps its references; nothing else may find a fake torchvision
            # (torch itself checks for torchvision when it sets up torch.compile).
            for name in ("torchvision", "torchvision.transforms", "torchvision.utils"):
                sys.modules.pop(name, None)
    return ChannelsFirstVideo(Unet3D(dim=dim, dim_mults=dim_mults, channels=3))


def build_model(name: str, frames: int = 8) -> nn.Module:
    """A model by name (``frames``: the clip length, which only ``-mix`` UNets are tied to):

    - ``unet-<size>[-<temporal>]``: a named UNet, e.g. ``unet-wide``, ``unet-small-conv``,
      ``unet-compact-mix`` (chapter 07's temporal layer), ``unet-small-none`` for the
      frame-by-frame 2-D UNet;
    - ``dit-<size>/<patch>[-<attention>]``: a named DiT, e.g. ``dit-S/4``, ``dit-tiny/4-full``;
    - ``uvit-<size>[-<attention>]``: a named U-ViT, e.g. ``uvit-small``;
    - ``peer-unet3d``.
    """
    from tinyvdm.models.dit import DIT_CONFIGS, DiT
    from tinyvdm.models.unet import UNET_CONFIGS, UNet
    from tinyvdm.models.uvit import UVIT_CONFIGS, UViT
    from tinyvdm.nn.transformer import MODEL_ATTENTIONS

    if name == "peer-unet3d":
        return load_peer()
    family, _, rest = name.partition("-")
    if family in ("dit", "uvit"):
        size, _, attention = rest.partition("-")
        configs, cls = (DIT_CONFIGS, DiT) if family == "dit" else (UVIT_CONFIGS, UViT)
        if size not in configs or (attention and attention not in MODEL_ATTENTIONS):
            raise ValueError(f"model must be '{family}-<size>[-<attention>]' with size in {sorted(configs)} and "
                             f"attention in {MODEL_ATTENTIONS}, got {name!r}")
        return cls.from_name(size, **({"attention": attention} if attention else {}))
    parts = name.split("-")
    if parts[0] != "unet" or len(parts) not in (2, 3) or parts[1] not in UNET_CONFIGS:
        raise ValueError(f"model must be 'peer-unet3d', 'dit-<size>/<patch>[-<attention>]', 'uvit-<size>[-<attention>]' "
                         f"or 'unet-<size>[-attention|conv|mix|none]' with size in {sorted(UNET_CONFIGS)}, got {name!r}")
    overrides = {}
    if len(parts) == 3:
        if parts[2] not in ("attention", "conv", "mix", "none"):
            raise ValueError(f"model must be 'unet-<size>[-attention|conv|mix|none]': the temporal layer of {name!r} "
                             "must be attention, conv, mix or none")
        overrides["temporal"] = None if parts[2] == "none" else parts[2]
        if parts[2] == "mix":
            overrides["frames"] = frames
    return UNet.from_name(parts[1], **overrides)


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class TrainResult:
    model: str
    parameters: int
    batch: tuple[int, ...]
    seconds_per_step: float
    clips_per_second: float
    frames_per_second: float
    flops_per_step: int
    achieved_flops: float  # FLOP/s
    mfu: float  # achieved / ceiling
    ceiling: float
    precision: str


@dataclass
class SampleResult:
    model: str
    sampler: str
    steps: int
    clips: int
    seconds: float
    seconds_per_clip: float


@dataclass
class Report:
    device: str
    threads: int
    torch: str
    ceiling: dict[str, float]
    train: list[TrainResult] = field(default_factory=list)
    sample: list[SampleResult] = field(default_factory=list)
    attention: list[dict] = field(default_factory=list)


def attention_table(frames: tuple[int, ...] = (4, 8, 16, 32), height: int = 8, width: int = 8, dim: int = 64,
                    heads: int = 4, device: torch.device | str = "cpu", repeats: int = 3) -> list[dict]:
    """Chapter 08's cost table: one ``VideoAttention`` layer per pattern and clip length.

    Each row: FLOPs of forward + backward (:func:`~tinyvdm.nn.attention.attention_cost`), bytes kept
    for the backward pass on the path the layer takes here and on the plain path
    (:func:`~tinyvdm.nn.attention.saved_activation_bytes`), and the best of ``repeats`` measured
    seconds of a forward + backward pass (a layer this small is timed in milliseconds, where other
    programs only ever add time, so the minimum is the steadier number).
    """
    from tinyvdm.nn.attention import PATTERNS, VideoAttention, attention_cost, saved_activation_bytes

    device = torch.device(device)
    rows = []
    for pattern in PATTERNS:
        for t in frames:
            layer = VideoAttention(dim, heads, pattern).to(device)
            x = torch.randn(1, t, height, width, dim, device=device, requires_grad=True)

            def step():
                layer(x).sum().backward()
                if device.type == "cuda":
                    torch.cuda.synchronize()

            cost = attention_cost(pattern, t, height, width, dim, heads)
            rows.append(dict(
                pattern=pattern, frames=t, tokens=cost.tokens, flops=cost.flops,
                useful_flops=cost.flops - cost.attention_flops + cost.useful_attention_flops,
                saved_bytes=saved_activation_bytes(pattern, t, height, width, dim, heads, device=device),
                plain_saved_bytes=saved_activation_bytes(pattern, t, height, width, dim, heads, backend="plain",
                                                         device=device),
                seconds=_best_seconds(step, repeats),
            ))
    return rows


def benchmark_training(model: nn.Module, name: str, x_shape: tuple[int, ...], ceiling: float,
                       steps: int = 8, warmup: int = 3, bf16: bool = False,
                       device: torch.device | str = "cpu") -> TrainResult:
    """Median time of an AdamW training step (forward, MSE against noise, backward, update)."""
    device = torch.device(device)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(*x_shape, generator=generator).to(device)
    noise = torch.randn(*x_shape, generator=generator).to(device)
    timestep = torch.randint(0, 1000, (x_shape[0],), generator=generator).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step():
        with autocast(device, enabled=bf16):
            loss = F.mse_loss(model(x, timestep).float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()

    seconds = _median_seconds(step, steps, warmup)
    flops = training_flops(model, x_shape)
    b, t = x_shape[:2]
    return TrainResult(model=name, parameters=sum(p.numel() for p in model.parameters()), batch=tuple(x_shape),
                       seconds_per_step=seconds, clips_per_second=b / seconds, frames_per_second=b * t / seconds,
                       flops_per_step=flops, achieved_flops=flops / seconds, mfu=flops / seconds / ceiling,
                       ceiling=ceiling, precision="bf16" if bf16 else "fp32")


def benchmark_sampling(model: nn.Module, name: str, x_shape: tuple[int, ...], sampler: str, steps: int,
                       bf16: bool = False, device: torch.device | str = "cpu") -> SampleResult:
    """Wall time of one full sampling run of ``x_shape[0]`` clips from noise."""
    device = torch.device(device)
    schedule = NoiseSchedule.from_name("cosine", 1000)
    if sampler == "ddpm":
        if steps != schedule.num_steps:
            raise ValueError(f"DDPM runs every step of the schedule ({schedule.num_steps}), got steps={steps}")
        chosen = DDPMSampler(schedule)
    elif sampler == "ddim":
        chosen = DDIMSampler(schedule, steps)
    elif sampler == "renoise":
        chosen = RenoiseSampler(schedule, steps)
    else:
        raise ValueError(f"sampler must be 'ddpm', 'ddim' or 'renoise', got {sampler!r}")
    model = model.to(device).eval()
    generator = torch.Generator(device="cpu").manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad(), autocast(device, enabled=bf16):
        chosen.sample(model, x_shape, generator=generator, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return SampleResult(model=name, sampler=sampler, steps=steps, clips=x_shape[0], seconds=seconds,
                        seconds_per_clip=seconds / x_shape[0])


# --- the command -------------------------------------------------------------------------------


def format_report(report: Report) -> str:
    lines = [f"device {report.device}, {report.threads} threads, torch {report.torch}",
             "ceiling: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in report.ceiling.items())]
    if report.train:
        lines += ["", f"{'training':<22}{'params':>9}{'batch':>17}{'s/step':>9}{'clips/s':>9}{'frames/s':>10}"
                  f"{'GFLOP/step':>12}{'GFLOP/s':>9}{'MFU':>6}{'':>2}precision"]
        for r in report.train:
            lines.append(f"{r.model:<22}{r.parameters / 1e6:>8.2f}M{'x'.join(map(str, r.batch)):>17}"
                         f"{r.seconds_per_step:>9.3f}{r.clips_per_second:>9.1f}{r.frames_per_second:>10.1f}"
                         f"{r.flops_per_step / 1e9:>12.1f}{r.achieved_flops / 1e9:>9.0f}{r.mfu:>6.0%}  {r.precision}")
        for r in report.train:
            if r.precision == "fp32":
                lines.append(f"{r.model}: {r.achieved_flops / REFERENCE_CEILING:.0%} of the 215 GFLOP/s fp32 "
                             "reference ceiling in MACHINE.md")
        by_name = {r.model: r for r in report.train}
        if "peer-unet3d" in by_name:
            peer = by_name["peer-unet3d"]
            for r in report.train:
                if r.model != "peer-unet3d":
                    lines.append(f"{r.model} trains {r.frames_per_second / peer.frames_per_second:.1f}x as many "
                                 f"frames/s as peer-unet3d")
    if report.attention:
        lines += ["", f"{'attention layer':<16}{'frames':>7}{'tokens':>7}{'GFLOP':>8}{'useful':>8}{'saved MB':>9}"
                  f"{'plain MB':>9}{'ms':>8}"]
        for r in report.attention:
            lines.append(f"{r['pattern']:<16}{r['frames']:>7}{r['tokens']:>7}{r['flops'] / 1e9:>8.3f}"
                         f"{r['useful_flops'] / 1e9:>8.3f}{r['saved_bytes'] / 2**20:>9.2f}"
                         f"{r['plain_saved_bytes'] / 2**20:>9.2f}{1000 * r['seconds']:>8.1f}")
    if report.sample:
        lines += ["", f"{'sampling':<22}{'sampler':>8}{'steps':>7}{'clips':>7}{'seconds':>10}{'s/clip':>9}"]
        for r in report.sample:
            lines.append(f"{r.model:<22}{r.sampler:>8}{r.steps:>7}{r.clips:>7}{r.seconds:>10.1f}"
                         f"{r.seconds_per_clip:>9.2f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tinyvdm.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="unet-compact,unet-small,unet-wide",
                        help="comma-separated: unet-<size>[-attention|conv|mix|none], dit-<size>/<patch>[-<attention>] "
                             "(chapter 11: dit-S/4), uvit-<size>[-<attention>], peer-unet3d")
    parser.add_argument("--peer", action="store_true", help="add peer-unet3d (needs `make bench-peer`)")
    parser.add_argument("--batch", type=int, default=8, help="clips per training step")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed training steps (after 3 warm-up steps)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (MFU then against the bf16 ceiling)")
    parser.add_argument("--ceiling", type=float, default=None,
                        help="GFLOP/s to quote MFU against (default: measured at start-up)")
    parser.add_argument("--sample", default="ddpm:1000,ddim:100,ddim:50,ddim:20,ddim:10,renoise:50",
                        help="sampler:steps list to time on the first model ('' for none)")
    parser.add_argument("--sample-batch", type=int, default=8, help="clips per sampling run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: automatic)")
    parser.add_argument("--attention", action="store_true",
                        help="add chapter 08's cost table of the attention patterns (8x8 tokens, t = 4..32)")
    return parser


def run(args: argparse.Namespace) -> Report:
    device = torch.device(args.device) if args.device else get_device()
    names = [n for n in args.models.split(",") if n]
    if args.peer and "peer-unet3d" not in names:
        names.append("peer-unet3d")
    for value, what in ((args.batch, "--batch"), (args.frames, "--frames"), (args.size, "--size"),
                        (args.steps, "--steps"), (args.sample_batch, "--sample-batch")):
        if value < 1:
            raise SystemExit(f"{what} must be a positive int, got {value}")
    models = {name: build_model(name, frames=args.frames) for name in names}  # fail early on a bad name or missing peer
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    ceiling = measure_ceiling(dtype, device)
    if args.ceiling is not None:
        ceiling["given"] = args.ceiling * 1e9
    quoted = ceiling.get("given", ceiling["best"])
    report = Report(device=str(device), threads=torch.get_num_threads(), torch=torch.__version__, ceiling=ceiling)
    shape = (args.batch, args.frames, 3, args.size, args.size)
    for name, model in models.items():
        report.train.append(benchmark_training(model, name, shape, quoted, steps=args.steps, bf16=args.bf16,
                                               device=device))
        print(format_report(report).splitlines()[-1], flush=True)
    if args.attention:
        report.attention = attention_table(device=device)
    sample_shape = (args.sample_batch, args.frames, 3, args.size, args.size)
    for item in filter(None, args.sample.split(",")):
        sampler, _, steps = item.partition(":")
        if not steps.isdigit():
            raise SystemExit(f"--sample items must look like ddim:50, got {item!r}")
        report.sample.append(benchmark_sampling(models[names[0]], names[0], sample_shape, sampler, int(steps),
                                                bf16=args.bf16, device=device))
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = run(args)
    print(format_report(report))
    if args.json is not None:
        with atomic_path(args.json) as tmp:
            Path(tmp).write_text(json.dumps(asdict(report), indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
