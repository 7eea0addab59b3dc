"""The one training loop: exact resume, snapshot selection, checkpoint checks."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from flashgen.errors import FlashgenError
from flashgen.models.flow import Flow
from flashgen.models.gan import GAN
from flashgen.training import TrainConfig, Trainer


class Interrupting(Flow):
    """A flow whose training is 'killed' (KeyboardInterrupt) at a given step."""

    def __init__(self, *args, stop_at: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stop_at, self.calls = stop_at, 0

    def train_step(self, x, c, optimizers: Sequence[torch.optim.Optimizer], generator):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().train_step(x, c, optimizers, generator)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(400, 2, generator=g), torch.zeros(400, 0)


def _flow(stop_at: int = 0) -> Interrupting:
    torch.manual_seed(0)
    return Interrupting(2, transforms=2, hidden=(16, 16), bins=4, stop_at=stop_at)


def test_resume_after_interruption_ends_exactly_like_an_uninterrupted_run(tmp_path) -> None:
    x, c = _data()
    cfg = TrainConfig(steps=60, batch_size=32, snapshot_every=20, seed=4, device="cpu")
    clean = _flow()
    Trainer(clean, cfg, quiet=True).fit(x, c, x[:100], c[:100])

    ckpt = tmp_path / "run.ckpt"
    broken = _flow(stop_at=33)  # killed between the snapshots at 20 and 40
    with pytest.raises(KeyboardInterrupt):
        Trainer(broken, cfg, checkpoint=ckpt, quiet=True).fit(x, c, x[:100], c[:100])
    assert ckpt.exists()
    resumed = _flow()  # a fresh process: new weights, continues from the checkpoint
    result = Trainer(resumed, cfg, checkpoint=ckpt, quiet=True).fit(x, c, x[:100], c[:100], resume=True)
    for (name, a), (_, b) in zip(clean.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert [h["step"] for h in result.history] == [20, 40, 60]


def test_selection_keeps_the_best_scored_snapshot() -> None:
    x, c = _data()
    scores = iter([3.0, 1.0, 2.0])
    net = _flow()
    seen = {}

    def score(model) -> float:
        value = next(scores)
        seen[value] = {k: v.clone() for k, v in model.state_dict().items()}
        return value

    result = Trainer(net, TrainConfig(steps=30, batch_size=16, snapshot_every=10, device="cpu"),
                     score, quiet=True).fit(x, c, x, c)
    assert result.best_step == 20 and result.best_score == 1.0
    for k, v in net.state_dict().items():
        assert torch.equal(v, seen[1.0][k])


def test_validation_loss_selects_when_no_score(tmp_path) -> None:
    x, c = _data()
    result = Trainer(_flow(), TrainConfig(steps=20, batch_size=16, snapshot_every=10, device="cpu"),
                     quiet=True).fit(x, c, x[:50], c[:50])
    assert all(h["score"] is not None for h in result.history)
    assert result.best_score == min(h["score"] for h in result.history)


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path) -> None:
    x, c = _data()
    ckpt = tmp_path / "run.ckpt"
    Trainer(_flow(), TrainConfig(steps=10, batch_size=16, snapshot_every=10, device="cpu"),
            checkpoint=ckpt, fingerprint={"rows": 400}, quiet=True).fit(x, c, x, c)
    with pytest.raises(FlashgenError, match="other data or settings"):
        Trainer(_flow(), TrainConfig(steps=10, batch_size=16, snapshot_every=10, device="cpu"),
                checkpoint=ckpt, fingerprint={"rows": 401}, quiet=True).fit(x, c, x, c, resume=True)
    ckpt.write_bytes(b"garbage")
    with pytest.raises(FlashgenError, match="unreadable"):
        Trainer(_flow(), TrainConfig(steps=10, batch_size=16, snapshot_every=10, device="cpu"),
                checkpoint=ckpt, fingerprint={"rows": 400}, quiet=True).fit(x, c, x, c, resume=True)


def test_config_is_validated() -> None:
    with pytest.raises(FlashgenError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(FlashgenError, match="lr_decay"):
        TrainConfig(lr_decay=0)
    with pytest.raises(FlashgenError, match="compile='yes': must be auto, on or off"):
        TrainConfig(compile="yes")


def test_compiled_steps_when_asked_or_long_enough_on_a_cpu() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not TrainConfig(steps=10**6).compiles(cpu)  # off by default
    assert TrainConfig(steps=3000, batch_size=512, compile="auto").compiles(cpu)
    assert not TrainConfig(steps=2000, batch_size=512, compile="auto").compiles(cpu)
    assert not TrainConfig(steps=3000, batch_size=512, compile="auto").compiles(cuda)
    assert TrainConfig(steps=10, compile="on").compiles(cpu)
    assert not TrainConfig(steps=10**6, compile="off").compiles(cpu)


def test_the_loop_runs_the_flow_through_its_compiled_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """With compile on, every step's spline goes through the compiled kernels (here stand-ins
    that count their calls), and only the training steps; the result records it."""
    import flashgen.models.flow_density as density

    calls = {"forward": 0, "backward": 0}

    def counting(name, eager):
        def run(*args):
            calls[name] += 1
            return eager(*args)
        return run

    monkeypatch.setattr(density, "_compiled", counting)
    x, c = _data()
    result = Trainer(_flow(), TrainConfig(steps=20, batch_size=16, snapshot_every=10, device="cpu", compile="on"),
                     quiet=True).fit(x, c, x[:50], c[:50])
    layers = 2
    assert result.compiled and calls == {"forward": 20 * layers, "backward": 20 * layers}
    off = Trainer(_flow(), TrainConfig(steps=20, batch_size=16, snapshot_every=10, device="cpu", compile="off"),
                  quiet=True).fit(x, c, x[:50], c[:50])
    assert not off.compiled and calls["forward"] == 20 * layers


def test_gan_regression_terms_pull_a_derived_quantity() -> None:
    """A GAN whose only goal is a target mean/width of x0 + x1 reaches it (the term is generic)."""
    from flashgen.models import RegressionTerm

    torch.manual_seed(0)
    term = RegressionTerm("sum", lambda x, c: x[:, 0] + x[:, 1], mean=3.0, std=0.5,
                          weight_mean=100.0, weight_std=100.0)
    gan = GAN(2, generator_hidden=(16,), discriminator_hidden=(16,), lr=1e-2, regression=[term])
    assert "regression" not in gan.hparams  # built from the data by the trainer, never saved
    x, c = _data()
    Trainer(gan, TrainConfig(steps=300, batch_size=128, snapshot_every=300, lr_decay=1.0, device="cpu"),
            score=lambda m: 0.0, quiet=True).fit(x, c, x, c)
    s = gan.sample(5000, None, torch.Generator().manual_seed(0)).sum(1)
    assert float(s.mean()) == pytest.approx(3.0, abs=0.15)
    assert float(s.std()) == pytest.approx(0.5, abs=0.1)
