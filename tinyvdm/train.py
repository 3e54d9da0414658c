"""One training loop for every model in the course: diffusion models, VAEs, GANs, classifiers.

Introduced with the diffusion chapters (chapter 06 trains its first denoiser with it) and used by
every later chapter that trains something. A model is trained by
handing :class:`Trainer` a ``loss_fn(model, batch, generator)`` that returns a scalar loss (or
``(loss, {"name": float, ...})`` for extra numbers to log), so the loop itself never knows what
kind of model it trains::

    schedule = NoiseSchedule.from_name("cosine", 1000)
    loss_fn = lambda m, b, g: diffusion_loss(schedule, m, b["video"], generator=g)
    trainer = Trainer(model, loss_fn, BouncingShapes(256), TrainConfig(steps=200)).fit()

What the loop does for you: AdamW with linear warm-up (then constant or cosine decay),
gradient-norm clipping, an exponential moving average (EMA) of the weights, bf16 autocast on a
GPU, a progress bar, periodic previews, atomic checkpoints that load with
``torch.load(weights_only=True)``, exact resume, a checkpoint on Ctrl-C, and data-parallel
training when launched with ``torchrun``.

Exact resume: the data order of epoch ``e`` is a permutation drawn from a generator seeded with
``(seed, e)``, so ``(epoch, position)`` fixes every later batch; the loss generator and torch's
RNG states are checkpointed too. A run interrupted at step ``k`` and resumed therefore gives the
same losses and the same final weights as an uninterrupted one (on the same device; tested on the
CPU with ``torch.equal``).

Command line: ``python -m tinyvdm.train --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data import default_collate
from tqdm.auto import tqdm

from tinyvdm.data.base import check_int
from tinyvdm.io import atomic_path
from tinyvdm.profile import autocast, get_device

LR_SCHEDULES = ("constant", "cosine")
CHECKPOINT_FORMAT = 1
TASKS = ("ddpm", "classifier")


@dataclass
class TrainConfig:
    """Everything :class:`Trainer` needs besides the model, the loss and the data; toy defaults.

    ``steps`` counts optimizer steps. The learning rate rises linearly from ``lr / warmup_steps``
    to ``lr`` over the first ``warmup_steps`` steps, then stays (``lr_schedule="constant"``) or
    follows half a cosine down to ``min_lr_ratio * lr`` at ``steps`` (``"cosine"``).
    ``grad_clip`` is the largest gradient norm allowed (``None``: no clipping; the norm is still
    recorded). ``ema_decay`` (``None``: no EMA) keeps a float32 moving average of the weights,
    which starts as a plain copy until step ``ema_start``. ``checkpoint_dir=None`` saves nothing;
    ``keep_checkpoints=True`` also keeps ``step_000100.pt``-style copies beside ``latest.pt``.
    ``device=None`` picks :func:`~tinyvdm.profile.get_device`; ``mixed_precision=None`` means bf16
    autocast on a GPU and fp32 on the CPU.
    """

    steps: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    lr_schedule: str = "constant"
    min_lr_ratio: float = 0.0
    grad_clip: float | None = 1.0
    ema_decay: float | None = None
    ema_start: int = 0
    log_every: int = 10
    preview_every: int | None = None
    checkpoint_every: int = 100
    checkpoint_dir: str | None = None
    keep_checkpoints: bool = False
    seed: int = 0
    device: str | None = None
    mixed_precision: bool | None = None
    num_workers: int = 0
    drop_last: bool = True
    progress: bool = True

    def __post_init__(self):
        check_int("steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_int("ema_start", self.ema_start, 0)
        check_int("log_every", self.log_every, 1)
        check_int("checkpoint_every", self.checkpoint_every, 1)
        check_int("seed", self.seed, 0)
        check_int("num_workers", self.num_workers, 0)
        if self.preview_every is not None:
            check_int("preview_every", self.preview_every, 1)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        self.betas = tuple(self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be None or a positive number, got {self.grad_clip!r}")
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be None or in [0, 1), got {self.ema_decay!r}")
        if self.device is not None:
            self.device = str(self.device)
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = str(self.checkpoint_dir)


def lr_at(config: TrainConfig, step: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based): linear warm-up, then constant or cosine.

    Warm-up lets Adam's second-moment estimates settle before full-size steps: step ``s < warmup``
    uses ``lr * (s + 1) / warmup``. After warm-up, ``"cosine"`` decays to ``min_lr_ratio * lr`` at
    ``config.steps`` and stays there if training continues past it.
    """
    check_int("step", step, 0)
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.lr
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.min_lr_ratio
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the ``n`` items in ``epoch``: a pure function of ``(seed, epoch)``."""
    # Mix the two into one 63-bit seed; distinct (seed, epoch) pairs give distinct seeds.
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))
    return torch.randperm(n, generator=generator)


class _BatchOrder:
    """Index lists of this rank's share of every global batch, from ``(epoch, position)`` on, forever."""

    def __init__(self, n: int, batch_size: int, drop_last: bool, seed: int, epoch: int, position: int,
                 rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.drop_last, self.seed = n, batch_size, drop_last, seed
        self.epoch, self.position, self.rank, self.world_size = epoch, position, rank, world_size

    def __iter__(self):
        epoch, position = self.epoch, self.position
        per_epoch = batches_per_epoch(self.n, self.batch_size, self.drop_last)
        local = self.batch_size // self.world_size
        while True:
            order = epoch_permutation(self.n, self.seed, epoch)
            while position < per_epoch:
                start = position * self.batch_size
                global_batch = order[start:start + self.batch_size]
                yield global_batch[self.rank * local:(self.rank + 1) * local].tolist()
                position += 1
            epoch, position = epoch + 1, 0


def batches_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    """How many batches one pass over ``n`` items gives."""
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def to_device(batch, device: torch.device):
    """Move every tensor in a (nested) batch of dicts, lists and tuples to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


@contextlib.contextmanager
def _defer_interrupts():
    """Hold a Ctrl-C back until the block ends, so a step is either fully taken or not at all.

    Without this an interrupt between ``optimizer.step()`` and the step counter would save
    weights one step ahead of the counter, and resume would no longer be exact. Only the main
    thread can install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def _distributed_from_env() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` as torchrun sets them; ``(0, 0, 1)`` without torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return 0, 0, 1
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world_size


class Trainer:
    """Train ``model`` by minimising ``loss_fn(model, batch, generator)`` over ``dataset``.

    ``loss_fn`` gets the model (wrapped in ``DistributedDataParallel`` under torchrun), a batch
    collated by ``default_collate`` and moved to the device, and a ``torch.Generator`` on the
    device for any randomness it draws (noise, timesteps), and returns a scalar loss tensor or
    ``(loss, dict_of_floats)``. ``preview_fn(trainer)`` is called every ``preview_every`` steps
    (e.g. to show samples from :meth:`ema_model` in a notebook).

    Creating a Trainer moves the model to the device and seeds torch's global RNG with
    ``config.seed`` (so dropout inside the model replays on resume). ``preview_fn`` runs with
    forked RNG states, so previews never change the training run.

    Under ``torchrun`` (``WORLD_SIZE > 1``, read here, not at import) the process group is set up
    (gloo on the CPU, nccl on CUDA) unless it already is, the model is wrapped in DDP, and every
    global batch of ``batch_size`` items is split evenly across ranks, so the optimizer sees the
    same global batch as one process would. Only rank 0 logs, previews and saves. Each rank's loss
    generator and global RNG are seeded per rank, so ranks draw different noise and dropout
    masks; a resume under torchrun restores the weights, optimizer and data position exactly but
    draws fresh noise.

    Attributes: ``step`` (optimizer steps taken), ``epoch`` and ``position`` (next batch),
    ``history`` (one dict per step: ``step``, ``loss``, ``lr``, ``grad_norm``,
    ``samples_per_s`` and the loss's extras), ``interrupted``, ``rank``, ``world_size``.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, dataset: Dataset, config: TrainConfig | None = None,
                 preview_fn: Callable[[Trainer], Any] | None = None):
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise ValueError(f"loss_fn must be callable as loss_fn(model, batch, generator), got {loss_fn!r}")
        if preview_fn is not None and not callable(preview_fn):
            raise ValueError(f"preview_fn must be None or callable as preview_fn(trainer), got {preview_fn!r}")
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise ValueError("dataset must be a map-style Dataset (__getitem__ and __len__), "
                             f"got {type(dataset).__name__}")
        self.config, self.loss_fn, self.dataset, self.preview_fn = config, loss_fn, dataset, preview_fn

        self.rank, local_rank, self.world_size = _distributed_from_env()
        if self.world_size > 1:
            if config.batch_size % self.world_size:
                raise ValueError(f"batch_size must be divisible by the world size {self.world_size}, "
                                 f"got {config.batch_size}")
            if not config.drop_last:
                raise ValueError("drop_last must be True under torchrun (a partial last batch cannot be "
                                 "split evenly across ranks), got False")
        if config.device is not None:
            self.device = torch.device(config.device)
        elif self.world_size > 1 and torch.cuda.is_available():
            self.device = torch.device("cuda", local_rank)
        else:
            self.device = get_device()
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)

        per_epoch = batches_per_epoch(len(dataset), config.batch_size, config.drop_last)
        if per_epoch < 1:
            raise ValueError(f"the dataset must hold at least batch_size={config.batch_size} items "
                             f"with drop_last=True, got {len(dataset)}")

        torch.manual_seed(self._rank_seed())
        self.model = model.to(self.device)
        self.train_model: nn.Module = self.model
        if self.world_size > 1:
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)

        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters")
        self.optimizer = torch.optim.AdamW(params, lr=lr_at(config, 0), betas=config.betas,
                                           weight_decay=config.weight_decay)
        self.ema: dict[str, torch.Tensor] | None = None
        if config.ema_decay is not None:
            self.ema = {name: value.detach().float().clone()
                        for name, value in self.model.state_dict().items() if value.is_floating_point()}
        self.loss_generator = torch.Generator(device=self.device)
        self.loss_generator.manual_seed(self._rank_seed())
        self.step = self.epoch = self.position = 0
        self.history: list[dict[str, float]] = []
        self.interrupted = False
        self.last_checkpoint: Path | None = None

    def _rank_seed(self, step: int = 0) -> int:
        # Rank 0 of a fresh run uses config.seed itself; other ranks (and DDP resumes) get their own.
        return (self.config.seed + 1_000_003 * self.rank + 7919 * step) % (2**63)

    @property
    def is_main(self) -> bool:
        """True on the process that logs, previews and saves (rank 0)."""
        return self.rank == 0

    # -- training ---------------------------------------------------------------------------------

    def fit(self, steps: int | None = None, resume: bool | str | os.PathLike = False) -> Trainer:
        """Train, then return ``self``. ``steps``: how many more steps (default: up to ``config.steps``).

        ``resume=True`` first loads ``checkpoint_dir/latest.pt`` if it exists (else starts fresh);
        ``resume=<path>`` loads that file, which must exist.

        On Ctrl-C (KeyboardInterrupt, also Jupyter's stop button) an unfinished step is rolled back
        (its random draws are undone; a step whose optimizer update happened is kept, since the
        update, EMA and counters are applied together with Ctrl-C held back), a checkpoint is saved (when ``checkpoint_dir`` is set), the
        path is printed, ``self.interrupted`` is set and ``fit`` *returns* the trainer, so a
        notebook keeps its state and ``fit()`` can simply be called again. Under torchrun the
        interrupt is re-raised instead, so that every rank stops.
        """
        if resume:
            if resume is True:
                if self.config.checkpoint_dir is None:
                    raise ValueError("resume=True needs config.checkpoint_dir, got None")
                latest = Path(self.config.checkpoint_dir) / "latest.pt"
                if latest.exists():
                    self.load_checkpoint(latest)
                elif self.is_main:
                    print(f"no checkpoint at {latest}; starting from step {self.step}")
            else:
                self.load_checkpoint(resume)
        if steps is None:
            steps = self.config.steps - self.step
            if steps <= 0:
                return self
        else:
            check_int("steps", steps, 1)
        self.interrupted = False
        target = self.step + steps
        config = self.config
        order = _BatchOrder(len(self.dataset), config.batch_size, config.drop_last, config.seed,
                            self.epoch, self.position, self.rank, self.world_size)
        # A private generator: otherwise creating the loader's iterator draws its workers' base
        # seed from torch's global RNG, and a resumed run (one extra iterator) would drift.
        loader_generator = torch.Generator().manual_seed(config.seed * 1_000_003 + self.step)
        loader = DataLoader(self.dataset, batch_sampler=order, collate_fn=default_collate,
                            num_workers=config.num_workers, pin_memory=self.device.type == "cuda",
                            generator=loader_generator)
        batches = iter(loader)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        per_epoch = batches_per_epoch(len(self.dataset), config.batch_size, config.drop_last)
        bar = tqdm(total=target, initial=self.step, disable=not (config.progress and self.is_main),
                   desc="train", dynamic_ncols=True)
        self.train_model.train()
        # Torch's global RNG and the loss generator as they were when the step began: an
        # interrupted step is rolled back to them, so resuming redoes it with the same draws.
        start_state = None
        try:
            while self.step < target:
                start_state = self._rng_state()
                tic = time.perf_counter()
                batch = to_device(next(batches), self.device)
                lr = lr_at(config, self.step)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                with autocast(self.device, enabled=config.mixed_precision):
                    loss, extras = _unpack_loss(self.loss_fn(self.train_model, batch, self.loss_generator))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                # With grad_clip=None an infinite limit only measures the norm (scaling by 1 is exact).
                max_norm = config.grad_clip if config.grad_clip is not None else math.inf
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
                with _defer_interrupts():
                    self.optimizer.step()
                    self._update_ema()
                    self.step += 1
                    self.position += 1
                    if self.position >= per_epoch:
                        self.epoch, self.position = self.epoch + 1, 0
                    start_state = None  # the step is taken: an interrupt from here on keeps it
                loss_value = self._mean_over_ranks(loss.detach().float())
                seconds = time.perf_counter() - tic
                record = {**extras, "step": self.step, "loss": loss_value, "lr": lr, "grad_norm": grad_norm,
                          "samples_per_s": config.batch_size / max(seconds, 1e-9)}
                self.history.append(record)
                bar.update(1)
                if self.step % config.log_every == 0 or self.step == target:
                    bar.set_postfix(loss=f"{loss_value:.4f}", samples_s=f"{record['samples_per_s']:.1f}")
                if config.preview_every is not None and self.step % config.preview_every == 0 and self.is_main:
                    self._preview()
                if config.checkpoint_dir is not None and (self.step % config.checkpoint_every == 0
                                                          or self.step == target):
                    self.save_checkpoint()
        except KeyboardInterrupt:
            if start_state is not None:
                self._set_rng_state(start_state)
            self.interrupted = True
            bar.close()
            if config.checkpoint_dir is not None and self.is_main:
                path = self.save_checkpoint(barrier=False)
                print(f"interrupted at step {self.step}: checkpoint saved to {path}")
            elif self.is_main:
                print(f"interrupted at step {self.step} (no checkpoint_dir, nothing saved)")
            if self.world_size > 1:
                raise
            return self
        finally:
            bar.close()
            del batches  # stops DataLoader workers
        return self

    def _preview(self):
        if self.preview_fn is None:
            return
        was_training = self.model.training
        # Sampling in a preview draws from torch's global RNG; forking it keeps training the same
        # with or without previews.
        cuda_devices = [self.device.index or 0] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=cuda_devices):
                self.preview_fn(self)
        finally:
            self.model.train(was_training)

    def _mean_over_ranks(self, loss: torch.Tensor) -> float:
        # Logged losses are global means, the same number one process would have seen.
        if self.world_size > 1:
            loss = loss.clone()
            dist.all_reduce(loss)
            loss /= self.world_size
        return float(loss)

    @torch.no_grad()
    def _update_ema(self):
        """``ema <- decay * ema + (1 - decay) * weights`` (a plain copy before ``ema_start``)."""
        if self.ema is None:
            return
        decay = self.config.ema_decay if self.step >= self.config.ema_start else 0.0
        for name, value in self.model.state_dict().items():
            if name in self.ema:
                self.ema[name].mul_(decay).add_(value.detach().float(), alpha=1 - decay)

    def ema_model(self) -> nn.Module:
        """A copy of the model carrying the EMA weights, in eval mode (the model itself if no EMA)."""
        if self.ema is None:
            raise ValueError("ema_model() needs config.ema_decay to be set, got None")
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.ema, strict=False)  # copies and casts to each weight's dtype
        return model.eval()

    # -- randomness -------------------------------------------------------------------------------

    def _rng_state(self) -> dict[str, Any]:
        state = {"loss_generator": self.loss_generator.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _set_rng_state(self, state: dict[str, Any]):
        self.loss_generator.set_state(state["loss_generator"].cpu())
        torch.set_rng_state(state["torch"].cpu())
        if state.get("cuda") is not None and torch.cuda.is_available():
            cuda_states = [s.cpu() for s in state["cuda"]][:torch.cuda.device_count()]
            torch.cuda.set_rng_state_all(cuda_states)

    # -- checkpoints ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs, made only of what ``torch.load(weights_only=True)`` accepts."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema,
            "scheduler": {"lr_schedule": self.config.lr_schedule, "step": self.step,
                          "last_lr": lr_at(self.config, max(self.step - 1, 0))},
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "rng": self._rng_state(),
            "history": [dict(record) for record in self.history],
            "config": dataclasses.asdict(self.config),
            "world_size": self.world_size,
        }

    def save_checkpoint(self, path: str | os.PathLike | None = None, barrier: bool = True) -> Path | None:
        """Write a checkpoint atomically and return its path (``None`` on ranks other than 0).

        ``path=None`` writes ``checkpoint_dir/latest.pt`` (plus ``step_XXXXXX.pt`` with
        ``keep_checkpoints``). The file is first written to a temporary name in the same folder and
        then renamed over the target with ``os.replace``, so a crash mid-save never leaves a
        half-written ``latest.pt``: the old one stays until the new one is complete.
        """
        if path is None:
            if self.config.checkpoint_dir is None:
                raise ValueError("save_checkpoint() needs a path or config.checkpoint_dir, got neither")
            path = Path(self.config.checkpoint_dir) / "latest.pt"
        path = Path(path)
        if self.is_main:
            state = self.state_dict()
            _atomic_save(state, path)
            if self.config.keep_checkpoints and path.name == "latest.pt":
                _atomic_save(state, path.with_name(f"step_{self.step:06d}.pt"))
            self.last_checkpoint = path
        if barrier and self.world_size > 1:
            dist.barrier()  # no rank runs ahead and reads a checkpoint before it exists
        return path if self.is_main else None

    def load_checkpoint(self, path: str | os.PathLike) -> Trainer:
        """Restore everything from ``path`` (written by :meth:`save_checkpoint`) and return ``self``.

        Loaded with ``weights_only=True``, so a checkpoint cannot run code. A missing file raises
        ``FileNotFoundError`` and an unreadable one ``RuntimeError``, both naming the path.
        """
        state = load_checkpoint_file(path, map_location=self.device)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise ValueError(f"config.ema_decay is set but checkpoint {path} holds no EMA weights")
            self.ema = {name: value.to(self.device, torch.float32) for name, value in state["ema"].items()}
        self.step, self.epoch, self.position = int(state["step"]), int(state["epoch"]), int(state["position"])
        self._set_rng_state(state["rng"])
        if self.world_size > 1:
            # The file holds rank 0's RNG states only, and every rank needs its own streams, so
            # under torchrun the random draws after a resume are fresh rather than replayed.
            self.loss_generator.manual_seed(self._rank_seed(self.step))
            torch.manual_seed(self._rank_seed(self.step))
        self.history = [dict(record) for record in state["history"]]
        return self


def load_checkpoint_file(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; errors name the path.

    Useful on its own, e.g. ``load_checkpoint_file(p)["model"]`` for the weights, or
    ``["ema"]`` for the averaged ones.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types (pickle, zip, EOF) for a damaged file
        raise RuntimeError(f"could not read checkpoint {path}: {error}") from error
    missing = [key for key in ("model", "optimizer", "step", "epoch", "position", "rng", "history")
               if not isinstance(state, dict) or key not in state]
    if missing:
        raise RuntimeError(f"checkpoint {path} is not a tinyvdm.train checkpoint: missing {missing}")
    return state


def _atomic_save(state: dict, path: Path) -> None:
    with atomic_path(path, fsync=True) as tmp:
        torch.save(state, tmp)


def _unpack_loss(output) -> tuple[torch.Tensor, dict[str, float]]:
    extras = {}
    if isinstance(output, tuple):
        if len(output) != 2 or not isinstance(output[1], dict):
            raise ValueError(f"loss_fn must return a loss or (loss, dict), got a tuple of length {len(output)}")
        output, extras = output
        extras = {str(key): float(value) for key, value in extras.items()}
    if not isinstance(output, torch.Tensor) or output.numel() != 1:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
    return output.reshape(()), extras


# -- command line ---------------------------------------------------------------------------------


def _classifier_task(args):
    from tinyvdm.data import DIRECTIONS, BouncingShapes
    from tinyvdm.models.classifier import ClipClassifier

    dataset = BouncingShapes(args.num_clips, seed=args.seed, frames=args.frames, size=args.size,
                             min_objects=1, max_objects=1)
    model = ClipClassifier(num_classes=len(DIRECTIONS), size=args.size)

    def loss_fn(model, batch, generator):
        logits = model(batch["video"])
        labels = batch["direction"][:, 0]  # the one object's direction of motion
        accuracy = (logits.argmax(dim=-1) == labels).float().mean()
        return torch.nn.functional.cross_entropy(logits, labels), {"accuracy": float(accuracy)}

    return model, loss_fn, dataset


def _ddpm_task(args):
    from tinyvdm.data import BouncingShapes
    from tinyvdm.diffusion import NoiseSchedule, diffusion_loss

    try:
        from tinyvdm.models.unet import UNet
    except ImportError as error:
        raise SystemExit(f"--task ddpm needs tinyvdm.models.unet.UNet, which could not be imported: {error}")
    dataset = BouncingShapes(args.num_clips, seed=args.seed, frames=args.frames, size=args.size)
    model = UNet.from_name(args.model)
    schedule = NoiseSchedule.from_name("cosine", 1000)

    def loss_fn(model, batch, generator):
        return diffusion_loss(schedule, model, batch["video"], generator=generator)

    return model, loss_fn, dataset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinyvdm.train",
        description="Train a tinyvdm model on bouncing shapes outside a notebook (torchrun works too).")
    parser.add_argument("--task", choices=TASKS, default="classifier",
                        help="ddpm: a video UNet as a denoiser; classifier: which way the shape moves")
    parser.add_argument("--model", default="tiny", help="named UNet size for --task ddpm (default: tiny)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=None, help="default: 1e-3 (classifier), 2e-4 (ddpm)")
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--ema-decay", type=float, default=None)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--num-clips", type=int, default=1024, help="clips in the training set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="e.g. cpu or cuda (default: the best one here)")
    parser.add_argument("--checkpoint-dir", default=None, help="where latest.pt goes (default: nothing saved)")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true", help="continue from CHECKPOINT_DIR/latest.pt if it exists")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (130 after Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.checkpoint_dir is None:
        raise SystemExit("--resume needs --checkpoint-dir")
    model, loss_fn, dataset = (_ddpm_task if args.task == "ddpm" else _classifier_task)(args)
    lr = args.lr if args.lr is not None else (2e-4 if args.task == "ddpm" else 1e-3)
    try:
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=lr, warmup_steps=args.warmup_steps,
                             ema_decay=args.ema_decay, checkpoint_dir=args.checkpoint_dir,
                             checkpoint_every=args.checkpoint_every, seed=args.seed, device=args.device,
                             progress=not args.no_progress)
    except ValueError as error:
        parser.error(str(error))  # a usage message and exit code 2, not a traceback
    trainer = Trainer(model, loss_fn, dataset, config)
    trainer.fit(resume=args.resume)
    if trainer.is_main:
        recent = trainer.history[-10:]
        if recent:
            loss = sum(r["loss"] for r in recent) / len(recent)
            speed = sum(r["samples_per_s"] for r in recent) / len(recent)
            print(f"task {args.task}: step {trainer.step}, loss {loss:.4f} (mean of last {len(recent)}), "
                  f"{speed:.1f} samples/s on {trainer.device}")
        else:
            print(f"task {args.task}: nothing to do, already at step {trainer.step}")
        print(f"checkpoint: {trainer.last_checkpoint if trainer.last_checkpoint else 'none (no --checkpoint-dir)'}")
    if trainer.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
    return 130 if trainer.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
