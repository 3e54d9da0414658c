"""Tests for tinyvdm.train: the loop, its schedule, clipping, EMA, checkpoints, resume, DDP, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from tinyvdm.train import TrainConfig, Trainer, load_checkpoint_file, lr_at, main


class Pairs(Dataset):
    """``n`` fixed regression pairs ``{"x": (4,), "y": (2,)}`` from a linear map plus noise."""

    def __init__(self, n: int = 20, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=generator)
        weight = torch.randn(4, 2, generator=generator)
        self.y = self.x @ weight + 0.05 * torch.randn(n, 2, generator=generator)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return {"x": self.x[index], "y": self.y[index], "name": f"item{index}"}


def make_model(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 2))


def mse_loss(model, batch, generator):
    return nn.functional.mse_loss(model(batch["x"]), batch["y"])


def noisy_loss(model, batch, generator):
    """Uses the loss generator (like a diffusion loss), and logs an extra number."""
    noise = 0.1 * torch.randn(batch["x"].shape, generator=generator, device=batch["x"].device)
    loss = nn.functional.mse_loss(model(batch["x"] + noise), batch["y"])
    return loss, {"noise_std": float(noise.std())}


def config(**overrides) -> TrainConfig:
    defaults = dict(steps=12, batch_size=4, lr=1e-2, device="cpu", progress=False, seed=5)
    return TrainConfig(**{**defaults, **overrides})


def test_loss_decreases_and_history_is_recorded():
    trainer = Trainer(make_model(), mse_loss, Pairs(32), config(steps=80, batch_size=8, lr=3e-2)).fit()
    losses = [record["loss"] for record in trainer.history]
    assert len(losses) == 80 and trainer.step == 80
    assert sum(losses[-5:]) / 5 < 0.2 * sum(losses[:5]) / 5
    assert {"step", "loss", "lr", "grad_norm", "samples_per_s"} <= set(trainer.history[0])
    assert trainer.epoch == 20 and trainer.position == 0  # 32 items, batches of 8: 4 per epoch


def test_warmup_then_constant_or_cosine():
    cfg = config(lr=1.0, warmup_steps=4, steps=10)
    assert [lr_at(cfg, s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    cosine = config(lr=2.0, warmup_steps=2, steps=10, lr_schedule="cosine", min_lr_ratio=0.1)
    assert lr_at(cosine, 1) == 2.0
    assert lr_at(cosine, 2) == pytest.approx(2.0)
    assert lr_at(cosine, 6) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # half-way down the cosine
    assert lr_at(cosine, 10) == pytest.approx(0.2) and lr_at(cosine, 50) == pytest.approx(0.2)
    trainer = Trainer(make_model(), mse_loss, Pairs(), config(lr=1.0, warmup_steps=4, steps=6)).fit()
    assert [record["lr"] for record in trainer.history] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_grad_clipping_caps_the_norm():
    def huge_loss(model, batch, generator):
        return 1000.0 * mse_loss(model, batch, generator)

    trainer = Trainer(make_model(), huge_loss, Pairs(), config(steps=2, grad_clip=0.5)).fit()
    assert trainer.history[-1]["grad_norm"] > 10  # the recorded norm is the one before clipping
    clipped = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in trainer.model.parameters()]))
    assert clipped <= 0.5 + 1e-5
    unclipped = Trainer(make_model(), huge_loss, Pairs(), config(steps=2, grad_clip=None)).fit()
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in unclipped.model.parameters()]))
    assert norm == pytest.approx(unclipped.history[-1]["grad_norm"], rel=1e-5)


def test_ema_matches_the_analytic_average():
    model = make_model()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    snapshots = []
    cfg = config(steps=3, ema_decay=0.9, preview_every=1)
    trainer = Trainer(model, mse_loss, Pairs(), cfg,
                      preview_fn=lambda t: snapshots.append({k: v.clone() for k, v in t.model.state_dict().items()}))
    trainer.fit()
    assert len(snapshots) == 3
    for name, value in initial.items():
        expected = value
        for snapshot in snapshots:
            expected = 0.9 * expected + 0.1 * snapshot[name]
        assert trainer.ema[name].dtype == torch.float32
        torch.testing.assert_close(trainer.ema[name], expected, rtol=1e-6, atol=1e-7)
    ema_model = trainer.ema_model()
    assert not ema_model.training and ema_model is not trainer.model
    torch.testing.assert_close(ema_model.state_dict()["3.weight"], trainer.ema["3.weight"])
    # Before ema_start the average is a plain copy of the weights.
    late = Trainer(make_model(), mse_loss, Pairs(), config(steps=2, ema_decay=0.9, ema_start=5)).fit()
    assert all(torch.equal(late.ema[k], v) for k, v in late.model.state_dict().items())


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    trainer = Trainer(make_model(), noisy_loss, Pairs(), config(steps=3, ema_decay=0.5, checkpoint_dir=tmp_path)).fit()
    path = tmp_path / "latest.pt"
    state = torch.load(path, weights_only=True)
    assert state["step"] == 3 and state["config"]["batch_size"] == 4
    assert isinstance(state["rng"]["loss_generator"], torch.Tensor)
    fresh = Trainer(make_model(), noisy_loss, Pairs(), config(steps=3, ema_decay=0.5)).load_checkpoint(path)
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[name], value)
        assert torch.equal(fresh.ema[name], trainer.ema[name])
    assert fresh.history == trainer.history and (fresh.epoch, fresh.position) == (trainer.epoch, trainer.position)
    assert torch.equal(fresh.loss_generator.get_state(), trainer.loss_generator.get_state())


def test_atomic_save_leaves_no_temp_file_and_survives_a_failing_save(tmp_path, monkeypatch):
    trainer = Trainer(make_model(), mse_loss, Pairs(), config(steps=2, checkpoint_dir=tmp_path)).fit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]
    before = torch.load(tmp_path / "latest.pt", weights_only=True)

    def broken_save(obj, f, *args, **kwargs):  # writes part of the file, then fails
        if hasattr(f, "write"):
            f.write(b"half a checkpoint")
        else:
            Path(f).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(steps=1)  # saves at its last step, and that save fails
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]
    after = torch.load(tmp_path / "latest.pt", weights_only=True)
    assert after["step"] == before["step"] == 2


def test_fit_raises_on_failing_save_without_leaving_temp_files(tmp_path, monkeypatch):
    def broken_save(obj, f, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        Trainer(make_model(), mse_loss, Pairs(), config(steps=1, checkpoint_dir=tmp_path)).fit()
    assert list(tmp_path.iterdir()) == []


def _reference_run():
    cfg = config(steps=12, ema_decay=0.8)
    return Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), cfg).fit()  # 4 batches/epoch, 2 left over


def _assert_same_run(a: Trainer, b: Trainer):
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    assert [r["step"] for r in b.history] == list(range(1, 13))
    for name, value in a.model.state_dict().items():
        assert torch.equal(b.model.state_dict()[name], value), name
        if a.ema is not None:
            assert torch.equal(b.ema[name], a.ema[name]), name
    assert (a.epoch, a.position) == (b.epoch, b.position)


def test_exact_resume(tmp_path):
    reference = _reference_run()
    cfg = config(steps=12, ema_decay=0.8, checkpoint_dir=tmp_path, checkpoint_every=100)
    first = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), cfg).fit(steps=5)
    assert load_checkpoint_file(tmp_path / "latest.pt")["step"] == 5
    torch.manual_seed(123)  # whatever happened in between must not matter
    resumed = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), cfg).fit(resume=True)
    _assert_same_run(reference, resumed)
    assert first.step == 5 and resumed.step == 12


def test_interrupt_saves_and_resume_continues_exactly(tmp_path, capsys):
    reference = _reference_run()
    calls = []

    def interrupted_loss(model, batch, generator):
        calls.append(1)
        if len(calls) == 8:
            noisy_loss(model, batch, generator)  # draws from the generator first, then Ctrl-C
            raise KeyboardInterrupt
        return noisy_loss(model, batch, generator)

    cfg = config(steps=12, ema_decay=0.8, checkpoint_dir=tmp_path, checkpoint_every=100)
    trainer = Trainer(make_model(dropout=0.2), interrupted_loss, Pairs(18), cfg)
    assert trainer.fit() is trainer  # returns, does not re-raise
    assert trainer.interrupted and trainer.step == 7
    assert str(tmp_path / "latest.pt") in capsys.readouterr().out
    assert load_checkpoint_file(tmp_path / "latest.pt")["step"] == 7
    # Either continue in place (as in a notebook) ...
    trainer.fit()
    _assert_same_run(reference, trainer)
    # ... or resume from the file in a new process.
    resumed = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), cfg)
    resumed.load_checkpoint(tmp_path / "latest.pt")
    assert resumed.step == 12


def test_interrupt_resume_from_file(tmp_path):
    reference = _reference_run()
    calls = []

    def interrupted_loss(model, batch, generator):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return noisy_loss(model, batch, generator)

    cfg = config(steps=12, ema_decay=0.8, checkpoint_dir=tmp_path)
    Trainer(make_model(dropout=0.2), interrupted_loss, Pairs(18), cfg).fit()
    resumed = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), cfg).fit(resume=True)
    _assert_same_run(reference, resumed)


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("batch_size", 0), ("ema_decay", 1.0), ("ema_decay", -0.1), ("lr", 0.0),
    ("grad_clip", 0.0), ("warmup_steps", -1), ("lr_schedule", "linear"), ("steps", 2.5),
])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least batch_size"):
        Trainer(make_model(), mse_loss, Pairs(3), config(batch_size=4))
    with pytest.raises(ValueError, match="scalar"):
        Trainer(make_model(), lambda m, b, g: m(b["x"]), Pairs(), config(steps=1)).fit()
    with pytest.raises(ValueError, match="ema_decay"):
        Trainer(make_model(), mse_loss, Pairs(), config()).ema_model()


def test_missing_or_corrupt_checkpoint_names_the_path(tmp_path):
    trainer = Trainer(make_model(), mse_loss, Pairs(), config())
    missing = tmp_path / "nowhere" / "latest.pt"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        trainer.load_checkpoint(missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        trainer.fit(resume=missing)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="corrupt.pt"):
        trainer.load_checkpoint(corrupt)


DDP_SCRIPT = textwrap.dedent("""
    import sys
    import torch
    import torch.distributed as dist
    from torch import nn
    sys.path.insert(0, {test_dir!r})
    from test_train import Pairs, make_model, mse_loss, ddp_config
    from tinyvdm.train import Trainer

    trainer = Trainer(make_model(), mse_loss, Pairs(24), ddp_config()).fit()
    assert trainer.world_size == 2
    torch.save({{"params": trainer.model.state_dict(), "losses": [r["loss"] for r in trainer.history]}},
               f"{out}/rank{{trainer.rank}}.pt")
    dist.destroy_process_group()
""")


def ddp_config() -> TrainConfig:
    return config(steps=6, batch_size=8, lr=5e-2, grad_clip=1.0, warmup_steps=2)


def test_ddp_two_ranks_match_one_process(tmp_path, monkeypatch):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available here")
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(test_dir=str(Path(__file__).parent), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", str(script)]
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("torchrun did not finish within 120 s")
    if result.returncode != 0 and any(word in result.stderr for word in ("RendezvousError", "Rendezvous",
                                                                         "Address already in use")):
        pytest.skip(f"torchrun could not start: {result.stderr[-500:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, value in rank0["params"].items():
        assert torch.equal(rank1["params"][name], value), name

    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    single = Trainer(make_model(), mse_loss, Pairs(24), ddp_config()).fit()
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(rank0["params"][name], value, rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.tensor(rank0["losses"]), torch.tensor([r["loss"] for r in single.history]),
                               rtol=0, atol=1e-6)


def test_cli_classifier(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    capsys.readouterr()
    args = ["--task", "classifier", "--steps", "3", "--batch-size", "2", "--frames", "4", "--size", "16",
            "--num-clips", "8", "--checkpoint-dir", str(tmp_path / "run"), "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "step 3" in out and str(tmp_path / "run" / "latest.pt") in out
    assert main(args[:3] + ["5"] + args[4:] + ["--resume"]) == 0
    assert load_checkpoint_file(tmp_path / "run" / "latest.pt")["step"] == 5


def test_cli_ddpm(tmp_path, capsys):
    unet = pytest.importorskip("tinyvdm.models.unet")
    if not hasattr(unet, "UNet"):
        pytest.skip("tinyvdm.models.unet.UNet does not exist yet")
    args = ["--task", "ddpm", "--model", "tiny", "--steps", "1", "--batch-size", "1", "--frames", "2",
            "--size", "16", "--num-clips", "2", "--checkpoint-dir", str(tmp_path), "--device", "cpu",
            "--no-progress"]
    assert main(args) == 0
    assert "step 1" in capsys.readouterr().out
    assert load_checkpoint_file(tmp_path / "latest.pt")["step"] == 1


def test_continue_with_fit_steps_and_keep_step_checkpoints(tmp_path):
    cfg = config(steps=4, checkpoint_dir=tmp_path, checkpoint_every=2, keep_checkpoints=True)
    trainer = Trainer(make_model(), mse_loss, Pairs(), cfg).fit()
    assert trainer.fit() is trainer and trainer.step == 4  # already done: nothing to do
    trainer.fit(steps=3)  # three more
    assert trainer.step == 7 and [r["step"] for r in trainer.history] == list(range(1, 8))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "latest.pt", "step_000002.pt", "step_000004.pt", "step_000006.pt", "step_000007.pt"]


def test_previews_do_not_change_the_run():
    calls = []

    def preview(trainer):
        calls.append(trainer.step)
        torch.randn(100)  # e.g. sampling from the model
        trainer.model.eval()

    with_previews = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), config(steps=6, preview_every=2),
                            preview_fn=preview).fit()
    without = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), config(steps=6)).fit()
    assert calls == [2, 4, 6] and with_previews.model.training
    assert [r["loss"] for r in with_previews.history] == [r["loss"] for r in without.history]


def test_cli_rejects_a_bad_config(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--task", "classifier", "--steps", "0", "--num-clips", "4", "--device", "cpu"])
    assert exit_info.value.code == 2 and "steps" in capsys.readouterr().err


def test_interrupt_after_a_step_keeps_it(tmp_path):
    reference = _reference_run()

    def preview(trainer):
        if trainer.step == 4 and not trainer.interrupted:
            raise KeyboardInterrupt  # Ctrl-C while a notebook draws samples

    cfg = config(steps=12, ema_decay=0.8, checkpoint_dir=tmp_path, preview_every=2)
    trainer = Trainer(make_model(dropout=0.2), noisy_loss, Pairs(18), cfg, preview_fn=preview).fit()
    assert trainer.interrupted and trainer.step == 4
    assert load_checkpoint_file(tmp_path / "latest.pt")["step"] == 4
    _assert_same_run(reference, trainer.fit())
