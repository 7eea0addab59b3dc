"""The one training loop shared by every model: seeded, checkpointed, resumable, with objective
snapshot selection.

Every ``snapshot_every`` steps the loop scores the model on held-out data (by default the sum of
Kolmogorov-Smirnov statistics of chosen quantities, the seed analysis' criterion; otherwise the
model's validation loss), keeps the best snapshot, and writes a checkpoint (weights, optimiser and
scheduler states, RNG states, best snapshot, history) atomically. ``resume=True`` continues from
the last checkpoint and ends with exactly the weights of an uninterrupted run. At the end the best
snapshot is loaded into the model.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import FlashgenError
from ..files import atomic_path
from ..manifest import refuse_changes
from ..models.interface import Trainable
from ..progress import progress

__all__ = ["COMPILE_CHOICES", "COMPILE_SAMPLES", "TrainConfig", "TrainResult", "Trainer", "check_setting"]

COMPILE_CHOICES = ("auto", "on", "off")
"""Values of :attr:`TrainConfig.compile`."""
COMPILE_SAMPLES = 1_500_000
"""Events drawn (steps x batch size) from which ``compile="auto"`` compiles on a CPU: ~3,000 steps
of 512, where the flow's compiled step (~8 ms faster on 2 cores) pays back ~20 s of compiling."""


def check_setting(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an integer >= ``minimum`` (a training-loop count); one clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or value < minimum:
        raise FlashgenError(f"bad training setting {name}={value!r}: must be an integer >= {minimum}")
    return int(value)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the training loop (a model's own settings are its
    :class:`~flashgen.models.config.ModelConfig`), validated on construction.

    Arguments:
        steps: optimisation steps (batches), >= 1.
        batch_size: events per batch, >= 1.
        snapshot_every: steps between scored snapshots (and checkpoints), >= 1.
        lr_decay: final learning rate as a fraction of the initial one (cosine schedule), in
            (0, 1]; 1 keeps it constant.
        seed: seeds batch sampling, noise and the network initialisation.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
        compile: ``"on"``: the training step through the model's compiled kernels where it has
            them (:meth:`~flashgen.models.interface.Trainable.compile_steps`; the flow's splines,
            ~1.45x its step on a CPU for ~20 s of compiling once per process, ~5 s from the
            compile cache); ``"auto"``: so on a CPU when the training draws at least
            :data:`COMPILE_SAMPLES` events; ``"off"`` (default): never. Off by default because
            a compiled training rounds differently in float32 and so follows another, equally
            good, random path: the results of a seed change (on the mixed toy table, five seeds,
            the largest KS of any column 0.016-0.037 compiled against 0.014-0.025 eager).
    """

    steps: int = 4000
    batch_size: int = 512
    snapshot_every: int = 250
    lr_decay: float = 0.1
    seed: int = 0
    device: str = "auto"
    compile: str = "off"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "snapshot_every"):
            object.__setattr__(self, name, check_setting(name, getattr(self, name)))
        object.__setattr__(self, "seed", check_setting("seed", self.seed, minimum=0))
        decay = self.lr_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay <= 1:
            raise FlashgenError(f"bad training setting lr_decay={decay!r}: must be a number in (0, 1]")
        object.__setattr__(self, "lr_decay", float(decay))
        if self.device not in ("cpu", "cuda", "auto"):
            raise FlashgenError(f"bad training setting device={self.device!r}: must be cpu, cuda or auto")
        if self.compile not in COMPILE_CHOICES:
            raise FlashgenError(f"bad training setting compile={self.compile!r}: must be "
                                f"{', '.join(COMPILE_CHOICES[:-1])} or {COMPILE_CHOICES[-1]}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise FlashgenError("--device cuda requested but no CUDA device is available")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **fixed: Any) -> TrainConfig:
        """The config of ``values`` (e.g. a preset's, by name) and ``fixed``; unknown names refused."""
        known = [f.name for f in fields(cls)]
        unknown = [n for n in values if n not in known]
        if unknown:
            raise FlashgenError(f"unknown training setting {', '.join(map(repr, unknown))}; "
                                f"known: {', '.join(known)}")
        return cls(**{**values, **fixed})

    def compiles(self, device: torch.device) -> bool:
        """Whether the training step asks for compiled kernels on ``device``."""
        if self.compile == "auto":
            return device.type == "cpu" and self.steps * self.batch_size >= COMPILE_SAMPLES
        return self.compile == "on"

    @property
    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


@dataclass
class TrainResult:
    """What training did: selected snapshot, its score, timing and the score history."""

    best_step: int
    best_score: float | None
    steps: int
    seconds: float
    samples_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)
    compiled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trainer:
    """Train a :class:`~flashgen.models.interface.Trainable` with snapshots, selection and resume.

    Arguments:
        model: the network (its ``train_step`` does the optimisation).
        config: loop settings.
        score: ``model -> float`` (lower is better) evaluated on held-out data at every snapshot;
            ``None`` uses the model's validation loss, or keeps the last snapshot if it has none.
        checkpoint: file for resumable checkpoints (``None``: no checkpoints).
        fingerprint: plain values describing data and settings; a checkpoint made with another
            fingerprint is refused on resume.
        desc: label of the progress bar.
        quiet: no progress bar.
    """

    def __init__(self, model: Trainable, config: TrainConfig,
                 score: Callable[[Trainable], float] | None = None,
                 checkpoint: str | os.PathLike[str] | None = None,
                 fingerprint: dict[str, Any] | None = None, desc: str = "training",
                 quiet: bool = False) -> None:
        self.model, self.config, self.score = model, config, score
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.fingerprint = fingerprint or {}
        self.desc, self.quiet = desc, quiet

    def _schedule(self, step: int) -> float:
        decay = self.config.lr_decay
        return decay + (1 - decay) * 0.5 * (1 + math.cos(math.pi * min(step, self.config.steps) / self.config.steps))

    def _evaluate(self, x_val: Tensor, c_val: Tensor) -> float | None:
        if self.score is None and len(x_val) == 0:
            return None  # nothing held out: the last snapshot is kept
        self.model.eval()
        try:
            value = self.score(self.model) if self.score is not None else self.model.validation_loss(x_val, c_val)
            return None if value is None else float(value)
        finally:
            self.model.train()

    def fit(self, x: Tensor, c: Tensor, x_val: Tensor, c_val: Tensor, resume: bool = False) -> TrainResult:
        """Train on ``x`` ``(n, features)`` given ``c`` ``(n, context)``; select on the validation
        split ``x_val``, ``c_val``. Returns the :class:`TrainResult`; the model ends holding the
        selected snapshot's weights."""
        cfg = self.config
        device = cfg.torch_device
        self.model.to(device)
        x, c, x_val, c_val = (t.to(device) for t in (x, c, x_val, c_val))
        optimizers = self.model.configure_optimizers()
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, self._schedule) for o in optimizers]
        gen = torch.Generator(device=device)
        gen.manual_seed(cfg.seed)
        state: dict[str, Any] = {"step": 0, "best_step": 0, "best_score": None, "best_state": None,
                                 "history": [], "seconds": 0.0}
        if resume and self.checkpoint is not None and self.checkpoint.exists():
            state = self._load_checkpoint(optimizers, schedulers, gen)

        compiled = self.model.compile_steps(cfg.compiles(device))
        self.model.train()
        start = time.perf_counter() - state["seconds"]
        bar = progress(total=cfg.steps, desc=self.desc, unit="step", quiet=self.quiet,
                       initial=state["step"])
        losses: dict[str, float] = {}
        try:
            for step in range(state["step"] + 1, cfg.steps + 1):
                idx = torch.randint(len(x), (cfg.batch_size,), generator=gen, device=device)
                losses = self.model.train_step(x[idx], c[idx], optimizers, gen)
                if not all(math.isfinite(v) for v in losses.values()):
                    raise FlashgenError(
                        f"training diverged at step {step:,}: "
                        + ", ".join(f"{k} = {v:.3g}" for k, v in losses.items())
                        + "; lower the learning rate (--set lr=...) or check the input columns")
                with warnings.catch_warnings():
                    # a WGAN's generator optimiser first steps after several critic steps
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
                    for s in schedulers:
                        s.step()
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
                if step % cfg.snapshot_every == 0 or step == cfg.steps:
                    score = self._evaluate(x_val, c_val)
                    state["history"].append({"step": step, "score": score, **losses})
                    better = score is None or state["best_score"] is None or score < state["best_score"]
                    if better:
                        state["best_step"], state["best_score"] = step, score
                        state["best_state"] = copy.deepcopy(self.model.state_dict())
                    state["step"] = step
                    state["seconds"] = time.perf_counter() - start
                    self._save_checkpoint(state, optimizers, schedulers, gen)
        finally:
            bar.close()
            self.model.compile_steps(False)
        seconds = time.perf_counter() - start
        if state["best_state"] is not None:
            self.model.load_state_dict(state["best_state"])
        self.model.eval()
        return TrainResult(best_step=state["best_step"], best_score=state["best_score"],
                           steps=cfg.steps, seconds=seconds,
                           samples_per_second=cfg.steps * cfg.batch_size / max(seconds, 1e-9),
                           history=state["history"], compiled=compiled)

    def _save_checkpoint(self, state: dict[str, Any], optimizers: list[torch.optim.Optimizer],
                         schedulers: list[Any], gen: torch.Generator) -> None:
        if self.checkpoint is None:
            return
        payload = {
            "fingerprint": self.fingerprint,
            "config": asdict(self.config),
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in optimizers],
            "schedulers": [s.state_dict() for s in schedulers],
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            **state,
        }
        with atomic_path(self.checkpoint) as tmp:
            torch.save(payload, tmp)

    @staticmethod
    def _identity(fingerprint: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """What a checkpoint must share with the run that resumes it, as one flat mapping."""
        return {**fingerprint, **{f"config.{k}": v for k, v in config.items()}}

    def _load_checkpoint(self, optimizers: list[torch.optim.Optimizer], schedulers: list[Any],
                         gen: torch.Generator) -> dict[str, Any]:
        assert self.checkpoint is not None
        try:
            payload = torch.load(self.checkpoint, map_location=self.config.torch_device, weights_only=True)
        except Exception as err:
            raise FlashgenError(f"cannot resume: checkpoint {self.checkpoint} is unreadable "
                                f"({type(err).__name__}); delete it to start afresh") from None
        refuse_changes(self._identity(payload.get("fingerprint", {}), payload.get("config", {})),
                       self._identity(self.fingerprint, asdict(self.config)),
                       f"cannot resume from {self.checkpoint}: it was made with other data or settings",
                       "use the same command, or delete it to start afresh")
        self.model.load_state_dict(payload["model"])
        for o, s in zip(optimizers, payload["optimizers"]):
            o.load_state_dict(s)
        for sch, s in zip(schedulers, payload["schedulers"]):
            sch.load_state_dict(s)
        gen.set_state(payload["generator"].cpu())
        torch.set_rng_state(payload["torch_rng"].cpu())
        return {k: payload[k] for k in ("step", "best_step", "best_score", "best_state", "history", "seconds")}
