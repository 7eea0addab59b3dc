"""Fit a model to an event table: :func:`train` returns a :class:`~flashgen.models.FlashModel`.

The steps are the same for every model, one function each: choose the columns (preset or
explicit, :func:`resolve_columns`), hold out a seeded validation split (:class:`Split`), fit the
preprocessing pipelines on the training part, build the network from its typed settings
(:func:`model_config`: the family's :class:`~flashgen.models.config.ModelConfig`, the preset's
values, then the caller's), train it with the one :class:`~flashgen.training.Trainer`
(selecting the snapshot by the sum of KS statistics on the held-out part,
:func:`ks_sum_scorer`, or by the model's held-out loss), train the detection-efficiency
classifier when the data have one, and bundle everything with the schema and provenance.
"""

from __future__ import annotations

import copy
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..data import Column, EventTable, split_rows
from ..domain import Domain
from ..errors import FlashgenError
from ..models import DEFAULT_MODEL, FlashModel, RegressionTerm, get_model
from ..models.config import ModelConfig
from ..models.interface import LatentGenerator, Trainable
from ..models.efficiency import EfficiencyClassifier
from ..sources.registry import Preset, get_preset, quantity
from ..transforms import AutoPlan, Pipeline, Transform
from .health import check_health, outside_fraction, training_support
from .trainer import TrainConfig, Trainer, check_setting

__all__ = ["DEFAULT_VAL_FRACTION", "SELECT_LOSS", "Checkpoint", "Columns", "Split", "TrainSettings",
           "default_steps", "ks_sum_scorer", "loop_config", "model_config", "resolve_columns", "train"]

CALIBRATION_EVENTS = 100_000
"""Generated events on which the integers of an automatic plan are calibrated."""
SCORE_EVENTS = 10_000
"""Held-out events generated at each snapshot for the KS selection."""
SELECT_LOSS = "loss"
"""Selection by the model's own held-out loss instead of KS statistics."""
DEFAULT_VAL_FRACTION = 0.2
"""Held-out fraction for snapshot selection when neither the user nor a preset gives one."""
EFFICIENCY_TRAINING = {"steps": 2000, "batch_size": 1024}
"""Training of the efficiency classifier when no preset gives one."""
LOSS_ROWS = 10_000
"""Training events on which the health check compares the trained and the untrained loss."""


@dataclass(frozen=True)
class Split:
    """How training events are held out for snapshot selection.

    Arguments:
        val_fraction: fraction held out by a seeded permutation, in ``[0, 1)``; 0 keeps the
            last snapshot.
    """

    val_fraction: float = DEFAULT_VAL_FRACTION

    def __post_init__(self) -> None:
        if not 0 <= self.val_fraction < 1:
            raise FlashgenError(f"validation fraction must be in [0, 1), got {self.val_fraction}")

    @classmethod
    def resolve(cls, val_fraction: float | None, preset: Preset | None) -> Split:
        """The split given explicitly, else the preset's, else the default."""
        if val_fraction is not None:
            return cls(val_fraction)
        return cls(preset.val_fraction if preset is not None else DEFAULT_VAL_FRACTION)

    def rows(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(training rows, held-out rows)`` of ``rows`` (a seeded permutation)."""
        kept, held = split_rows(len(rows), self.val_fraction, rng)
        return rows[kept], rows[held]


@dataclass(frozen=True)
class Columns:
    """What a model learns: ``features`` given ``conditions``.

    Arguments:
        features: generated columns (``None``: the preset's, else every numeric column that is
            not a condition).
        conditions: condition columns (``None``: the preset's, else none).
        efficiency: a 0/1 column learnt by a detection-efficiency classifier (features are then
            learnt where it is 1); set by :func:`resolve_columns` from the preset.
        preprocessing: column -> preprocessing kind overriding the automatic plan of a table
            without a preset (:meth:`flashgen.transforms.auto.Plan.override`), e.g.
            ``{"pt": "standard"}``.
    """

    features: Sequence[str] | None = None
    conditions: Sequence[str] | None = None
    efficiency: str | None = None
    preprocessing: Mapping[str, str] = field(default_factory=dict)

    @property
    def all(self) -> list[str]:
        """Every column training reads (of resolved columns)."""
        return [*(self.features or ()), *(self.conditions or ())] + ([self.efficiency] if self.efficiency else [])


def resolve_columns(table: EventTable, preset: Preset | None, columns: Columns | None = None) -> Columns:
    """Explicit columns, else the preset's, else every numeric column that is not a condition;
    the result has lists of names and the preset's efficiency column where the table has it."""
    features, conditions = (columns.features, columns.conditions) if columns is not None else (None, None)
    cond = list(conditions) if conditions is not None else list(preset.conditions if preset else ())
    if features is not None:
        feats = list(features)
    elif preset is not None:
        feats = list(preset.features)
    else:
        feats = [n for n in table.names if n not in cond and np.issubdtype(table[n].dtype, np.number)]
    both = set(feats) & set(cond)
    if both:
        raise FlashgenError(f"column(s) {', '.join(sorted(both))} cannot be both feature and condition")
    if not feats:
        raise FlashgenError("no features to learn; give --features")
    eff = preset.efficiency if preset is not None and preset.efficiency in table else None
    if preset is not None and preset.efficiency_required and eff is None:
        raise FlashgenError(f"preset {preset.name} learns the efficiency from a 0/1 column "
                            f"'{preset.efficiency}', which the table lacks; {preset.efficiency_hint}")
    chosen = dict(columns.preprocessing) if columns is not None else {}
    if chosen and preset is not None:
        raise FlashgenError(f"preset {preset.name} brings its own preprocessing; choose a column's "
                            "preprocessing only without --preset")
    resolved = Columns(feats, cond, eff, chosen)
    table.select(resolved.all)  # clear error for unknown columns
    return resolved


@dataclass(frozen=True)
class TrainSettings:
    """How to train, as the caller asks; ``None`` takes the preset's value, else the default.

    Arguments:
        steps, batch_size, snapshot_every: training-loop settings (:class:`TrainConfig`), each
            >= 1; ``steps`` also sets the detection-efficiency classifier's.
        val_fraction: held-out fraction for snapshot selection, in [0, 1) (0: keep the last
            snapshot; default: the preset's, else 0.2), see :class:`Split`.
        selection: quantities whose KS sum selects the snapshot (columns or derived names), or
            ``("loss",)``: the model's held-out loss (negative log-likelihood for a flow).
        seed: seeds the split, the preprocessing noise, the initialisation and the training.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        quiet: no progress bars.
        compile: compiled training steps, ``"auto"``, ``"on"`` or ``"off"`` (default: the
            preset's, else ``"off"``), see :class:`TrainConfig`.
    """

    steps: int | None = None
    batch_size: int | None = None
    snapshot_every: int | None = None
    val_fraction: float | None = None
    selection: Sequence[str] | None = None
    seed: int = 0
    device: str = "auto"
    quiet: bool = True
    compile: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "snapshot_every"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_setting(name, getattr(self, name)))
        object.__setattr__(self, "seed", check_setting("seed", self.seed, minimum=0))
        if self.val_fraction is not None:
            Split(self.val_fraction)
        if self.selection is not None:
            if isinstance(self.selection, str):
                raise FlashgenError(f"selection must be a list of quantities, got '{self.selection}'")
            object.__setattr__(self, "selection", tuple(self.selection))
        if self.device not in ("cpu", "cuda", "auto"):
            raise FlashgenError(f"bad training setting device={self.device!r}: must be cpu, cuda or auto")
        if self.compile is not None:
            TrainConfig(compile=self.compile)

    def loop(self, preset: Preset | None, model: str) -> TrainConfig:
        """The loop's :class:`TrainConfig`: the preset's values for ``model``, then these."""
        given = {k: getattr(self, k) for k in ("steps", "batch_size", "snapshot_every", "compile")
                 if getattr(self, k) is not None}
        return loop_config(preset, model, given, seed=self.seed, device=self.device)


@dataclass(frozen=True)
class Checkpoint:
    """Where resumable checkpoints go; with ``resume`` training continues from the file (when it
    exists) and ends exactly as an uninterrupted run."""

    path: str | os.PathLike[str]
    resume: bool = False


def loop_config(preset: Preset | None, model: str, values: Mapping[str, Any] | None = None,
                **fixed: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a preset's training settings for ``model`` (or
    ``"efficiency"``), with ``values`` and ``fixed`` on top."""
    return TrainConfig.from_mapping({**(preset.train.get(model, {}) if preset else {}), **(values or {})},
                                    **fixed)


def model_config(model: str, preset: str | Preset | None = None,
                 config: ModelConfig | Mapping[str, Any] | None = None) -> ModelConfig:
    """The typed settings of the model family ``model``: its defaults, then the preset's, then
    ``config`` (a mapping replaces the settings it names, e.g. ``--set`` values as text; a
    config of the family replaces all)."""
    pre = get_preset(preset) if isinstance(preset, str) else preset
    return get_model(model).config_class.build(pre.hparams.get(model) if pre else None, config)


def default_steps(features: list[str], overrides: Mapping[str, str] | None = None) -> list[Transform]:
    """Preprocessing without a preset: one :class:`~flashgen.transforms.AutoPlan` step that
    chooses each feature's treatment from its training values when it is fitted (integers,
    point masses, bounds, angles, logs, constants: :mod:`flashgen.transforms.auto`), with
    ``overrides`` (column -> kind) replacing its choices. The fitted plan is stored in the
    model's ``info["plan"]``."""
    return [AutoPlan(features, overrides)]


def _versions() -> dict[str, str]:
    import zuko

    return {"flashgen": __version__, "torch": str(torch.__version__), "zuko": zuko.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _tensors(table: EventTable, names: Sequence[str], rows: np.ndarray) -> dict[str, torch.Tensor]:
    return {n: torch.as_tensor(np.asarray(table[n][rows], dtype=np.float64)) for n in names}


def train(table: EventTable, model: str = DEFAULT_MODEL, *, columns: Columns | None = None,
          preset: str | None = None, settings: TrainSettings | None = None,
          config: ModelConfig | Mapping[str, Any] | None = None, validation: EventTable | None = None,
          checkpoint: Checkpoint | str | os.PathLike[str] | None = None) -> FlashModel:
    """Train a generative model of ``columns.features`` (given ``columns.conditions``) on ``table``.

    Arguments:
        table: training events.
        model: a registered model family (:data:`flashgen.models.MODELS`).
        columns: what to learn (default: the preset's, else every numeric column), see
            :class:`Columns`.
        preset: a registered preset (:data:`flashgen.sources.registry.PRESETS`); its
            preprocessing is used when the columns are the preset's; its settings fill what
            ``settings`` and ``config`` leave out.
        settings: the training loop, split, selection, seed, device (:class:`TrainSettings`).
        config: the model's settings (:func:`model_config`): a mapping of some of them
            (override the preset's; text values are parsed) or the family's config.
        validation: held-out events for the selection; then every event of ``table`` is
            trained on and ``settings.val_fraction`` is ignored (e.g. the out-of-bag events of a
            bootstrap resample, which must not be scored on events the model has seen).
        checkpoint: file for resumable checkpoints, or a :class:`Checkpoint` that may resume.

    Returns:
        The trained :class:`FlashModel` (on the CPU); ``info["support"]`` holds the training
        range ``[min, max]`` of every feature and ``info["health"]`` what
        :mod:`flashgen.training.health` measured.

    Raises:
        UnhealthyModel: (:class:`~flashgen.training.health.UnhealthyModel`) the trained model
            failed its health check (:func:`~flashgen.training.health.check_health`): its samples
            do not overlap the held-out events, training made no progress, its loss diverged, or
            it generates far beyond the training range. Nothing is returned.
    """
    cls = get_model(model)
    pre = get_preset(preset) if preset is not None else None
    settings = settings if settings is not None else TrainSettings()
    chosen = model_config(model, pre, config)
    loop = settings.loop(pre, model)
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint)
    seed, batch_size = settings.seed, settings.batch_size
    cols = resolve_columns(table, pre, columns)
    own = pre is not None and cols.features == list(pre.features) and cols.conditions == list(pre.conditions)
    split = Split.resolve(settings.val_fraction, pre)

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    source = {k: table.meta.get(k) for k in ("source", "producer", "seed", "command")}
    n_train_table = len(table)
    if validation is not None:
        table = EventTable.concat([table.select(cols.all), validation.select(cols.all)])
    rows = np.flatnonzero(table[cols.efficiency] == 1) if cols.efficiency else np.arange(len(table))
    if validation is not None:
        train_rows, val_rows = rows[rows < n_train_table], rows[rows >= n_train_table]
    else:
        train_rows, val_rows = split.rows(rows, rng)
    if len(train_rows) < 2:
        raise FlashgenError(f"too few training events ({len(train_rows)}); need at least 2")
    _require_finite(table, cols, np.concatenate([train_rows, val_rows]))
    if batch_size is not None and batch_size > len(train_rows):
        raise FlashgenError(f"batch size {batch_size:,} is larger than the {len(train_rows):,} "
                            f"training events; give --batch-size {len(train_rows):,} or less")

    gen = torch.Generator().manual_seed(seed)
    feats, conds = cols.features, cols.conditions
    fpipe = Pipeline(feats, pre.steps_for(model) if own else
                     default_steps(feats, cols.preprocessing), conds)
    x_train = fpipe.fit(_tensors(table, feats + conds, train_rows), gen)
    x_val = fpipe.forward(_tensors(table, feats + conds, val_rows), gen)
    cpipe = None
    c_train = torch.zeros((len(train_rows), 0))
    c_val = torch.zeros((len(val_rows), 0))
    if conds:
        cpipe = Pipeline(conds, pre.condition_steps() if own else [])
        c_train = cpipe.fit(_tensors(table, conds, train_rows), gen)
        c_val = cpipe.forward(_tensors(table, conds, val_rows), gen)
    if x_train.shape[1] == 0:
        raise FlashgenError("nothing to learn: every feature is fixed by the conditions")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        extra = {}
        if issubclass(cls, LatentGenerator) and own and pre is not None and pre.regression:
            extra["regression"] = _regression_terms(pre, fpipe, table, train_rows, conds)
        try:
            net = cls(features=x_train.shape[1], context=c_train.shape[1], config=chosen, **extra)
        except (TypeError, ValueError) as err:
            raise FlashgenError(f"bad setting of model '{model}': {err}") from None
        quantities = list(settings.selection or (pre.selection if pre and own else ()) or feats)
        # "loss": the model's own held-out loss (a flow's NLL; models without one keep the last
        # snapshot). For a conditional model the KS of marginals cannot see errors that show only
        # at fixed conditions: measured on the electron response, KS selection kept early
        # snapshots with KS 0.05-0.09 at fixed inputs where the NLL-selected ones reach 0.01.
        score = (None if quantities == [SELECT_LOSS] else
                 ks_sum_scorer(fpipe, table, val_rows, conds, c_val, quantities, seed, loop.torch_device))
        fingerprint = {"model": model, "features": feats, "conditions": conds, "hparams": net.hparams,
                       "rows": len(table), "train_rows": len(train_rows), "preset": preset,
                       "checksum": float(np.nansum(x_train.numpy().astype(np.float64)))}
        # the untrained network, for the divergence check of a model with a loss
        untrained = copy.deepcopy(net) if type(net).validation_loss is not Trainable.validation_loss else None
        result = Trainer(net, loop, score, checkpoint.path if checkpoint else None, fingerprint,
                         f"training {model}", settings.quiet).fit(
            x_train, c_train, x_val, c_val, resume=checkpoint is not None and checkpoint.resume)
        efficiency = None
        if cols.efficiency is not None:
            assert cpipe is not None
            efficiency = _train_efficiency(table, cols, cpipe, pre, settings)

    learnt = np.concatenate([train_rows, val_rows])
    learnt_cols = {f: np.asarray(table[f][learnt], dtype=np.float64) for f in feats}
    # to every row learnt from: the fractions of a point mass or a flag to the table's precision
    calibrate_integers(net, fpipe, seed, loop.torch_device, {f: torch.as_tensor(v) for f, v in learnt_cols.items()})
    support = training_support(learnt_cols)
    held = len(val_rows) > 0
    with torch.random.fork_rng(devices=[]):  # health draws its own seeded samples; weights unchanged
        health = _measure_health(net, untrained, result.history, fpipe, table, val_rows if held else train_rows,
                                 conds, c_val if held else c_train, seed, loop.torch_device, support,
                                 len(quantities) if score is not None else 0, (x_val, c_val) if held else None,
                                 (x_train[:LOSS_ROWS], c_train[:LOSS_ROWS]))

    schema = {n: table.columns[n] for n in cols.all}
    if cols.efficiency:
        for f in feats:
            c = schema[f]
            schema[f] = Column(c.name, c.unit, c.description, nullable=True)
    info = {
        "kind": model, "preset": preset, "features": feats, "conditions": conds,
        "train_events": int(len(train_rows)), "val_events": int(len(val_rows)),
        "selection": quantities, "config": asdict(loop), "result": result.as_dict(),
        "source": source, "support": support, "health": health,
        "versions": _versions(), "seconds": time.perf_counter() - started,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    plan = _auto_plan(fpipe)
    if plan is not None:  # the automatic per-column preprocessing, for `inspect`: Plan.from_dict(...).describe()
        info["plan"] = plan.plan
    if table.meta.get("collections"):  # flattened NanoAOD collections: `generate --format nanoaod` writes them back
        info["collections"] = str(table.meta["collections"])
    if conds:  # where the conditions were seen: generation warns about rows outside it
        finite = np.all([np.isfinite(np.asarray(table[c], dtype=np.float64)) for c in conds], axis=0)
        info["domain"] = Domain.fit({c: np.asarray(table[c], dtype=np.float64)[finite] for c in conds}).state()
    check_health(health)
    dtypes = {n: str(table[n].dtype) for n in schema}
    return FlashModel(model, net.cpu(), fpipe, cpipe, schema, dtypes, efficiency, cols.efficiency, info)


def calibrate_integers(net: Any, fpipe: Pipeline, seed: int, device: torch.device,
                       reference: dict[str, torch.Tensor] | None = None, events: int = CALIBRATION_EVENTS) -> None:
    """Match the generated fraction of every integer of the automatic plan to that of the
    ``reference`` rows (physical feature columns; default: the training rows)
    (:meth:`~flashgen.transforms.AutoPlan.calibrate`) on ``events`` samples of the trained
    network ``net`` (seeded by ``seed``). A no-op for a conditional model or without an automatic plan."""
    plan = _auto_plan(fpipe)
    if plan is None or fpipe.conditions:
        return
    gen = torch.Generator(device=device).manual_seed(seed + 7919)
    net.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        z = net.to(device).sample(events, None, gen).cpu().double()
    plan.calibrate(fpipe.unstandardise(z), torch.Generator().manual_seed(seed), reference)


def _auto_plan(fpipe: Pipeline) -> AutoPlan | None:
    """The automatic plan of a pipeline without a preset (its only step), else ``None``."""
    return fpipe.steps[0] if len(fpipe.steps) == 1 and isinstance(fpipe.steps[0], AutoPlan) else None


def _require_finite(table: EventTable, cols: Columns, rows: np.ndarray) -> None:
    """The rule for NaN and infinities: a model never learns them. Features and conditions must
    be finite on every row it trains or selects on (with an efficiency column, the rows where it
    is 1; its NaN elsewhere mark undetected objects and are fine); otherwise a clear error."""
    for name in cols.features + cols.conditions:
        values = np.asarray(table[name][rows], dtype=np.float64)
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            hint = ("NaN often marks objects that were not reconstructed: learn them with a preset "
                    "that has an efficiency column (e.g. --preset electron), or train on the rows "
                    "where the column is defined")
            raise FlashgenError(f"column '{name}' has {bad:,} NaN/inf values among the {len(rows):,} "
                                f"events to learn from; flashgen learns finite values only. {hint}")


def _regression_terms(pre: Preset, fpipe: Pipeline, table: EventTable, rows: np.ndarray,
                      conds: list[str]) -> list[RegressionTerm]:
    """The preset's GAN regression terms, with the training data's mean and width."""
    if conds:
        raise FlashgenError("GAN regression terms need an unconditional model")
    phys = {n: np.asarray(table[n][rows], dtype=np.float64) for n in fpipe.columns}
    terms = []
    for name, w_mean, w_std in pre.regression:
        values = np.asarray(quantity(name, phys), dtype=np.float64)

        def function(x: torch.Tensor, c: torch.Tensor, name: str = name) -> torch.Tensor:
            # a quantity that is itself a model coordinate (m(μμ) in the zmumu preset) is taken
            # from there: smooth, and free of the far tails of the full inverse map
            return quantity(name, fpipe.inverse(x, None, None, exact=False, keep=[name]))

        terms.append(RegressionTerm(name, function, float(values.mean()), float(values.std()), w_mean,
                                    w_std, pre.regression_standardised))
    return terms


def ks_sum_scorer(fpipe: Pipeline, table: EventTable, rows: np.ndarray, conds: list[str],
                  c_val: torch.Tensor, quantities: list[str], seed: int,
                  device: torch.device) -> Callable[[Any], float | None]:
    """The seed analysis' selection criterion: a scorer ``network -> sum of KS statistics``
    of ``quantities``, generated vs held-out rows ``rows`` (at most :data:`SCORE_EVENTS`).

    A quantity with no finite generated value scores 1 (the largest KS distance).

    References:
        Hashemi et al., arXiv:1901.05282 (snapshot selection by a sum of KS statistics).
    """
    from ..distances import ks_test

    if len(rows) == 0:
        return lambda net: None  # nothing held out: the last snapshot is kept
    phys, draw = _selection_sample(fpipe, table, rows, conds, c_val, seed, device)
    reference = {q: np.asarray(quantity(q, phys), dtype=np.float64) for q in quantities}

    def score(net: Any) -> float:
        generated = draw(net)
        total = 0.0
        for q, ref in reference.items():
            sample = np.asarray(quantity(q, generated), dtype=np.float64)
            sample = sample[np.isfinite(sample)]
            total += 1.0 if len(sample) == 0 else ks_test(ref, sample).statistic
        return total

    return score


def _selection_sample(fpipe: Pipeline, table: EventTable, rows: np.ndarray, conds: list[str],
                      c_rows: torch.Tensor, seed: int, device: torch.device
                      ) -> tuple[dict[str, np.ndarray], Callable[[Any], dict[str, np.ndarray]]]:
    """The held-out selection sample: the physical columns of the first :data:`SCORE_EVENTS`
    rows of ``rows``, and ``network -> generated physical columns`` at their conditions
    (seeded by ``seed``: the same network gives the same sample). An unconditional automatic
    plan's integers are calibrated on the drawn events first, as the selected snapshot's will be:
    measured on the mixed toy, the uncalibrated fractions' noise between snapshots (a point mass
    off by 0.002 to 0.034) dominated the score and kept a snapshot with eta off by KS 0.04."""
    n = min(len(rows), SCORE_EVENTS)
    rows = rows[:n]
    phys = {k: np.asarray(table[k][rows], dtype=np.float64) for k in fpipe.columns + conds}
    cond_cols = {k: torch.as_tensor(phys[k]) for k in conds} or None
    calibrated = not conds and _auto_plan(fpipe) is not None

    def draw(net: Any) -> dict[str, np.ndarray]:
        gen = torch.Generator(device=device).manual_seed(seed + 1)
        with torch.no_grad():
            z = net.sample(n, c_rows[:n].to(device) if conds else None, gen)
            pipe = fpipe
            if calibrated:  # scored as it will generate: its integers calibrated (calibrate_integers), on a copy
                pipe = copy.deepcopy(fpipe)
                pipe.steps[0].calibrate(pipe.unstandardise(z.double().cpu()), torch.Generator().manual_seed(seed + 3))
            cols = pipe.inverse(z.double().cpu(), cond_cols, torch.Generator().manual_seed(seed + 2))
        return {k: v.numpy() for k, v in cols.items()} | {k: phys[k] for k in conds}

    return phys, draw


def _measure_health(net: Any, untrained: Any, history: list[dict[str, Any]], fpipe: Pipeline,
                    table: EventTable, rows: np.ndarray, conds: list[str], c_rows: torch.Tensor, seed: int,
                    device: torch.device, support: dict[str, list[float]], ks_quantities: int,
                    held_out: tuple[torch.Tensor, torch.Tensor] | None,
                    trained: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
    """What :func:`~flashgen.training.health.check_health` judges, for the selected snapshot
    ``net``: the snapshot scores, the mean KS per quantity (``ks_quantities`` > 0: KS selection),
    the fraction of generated values beyond the training range (on the selection sample of
    ``rows``, the held-out rows, else the training rows) and, for a model with a loss, that loss
    before (``untrained``) and after training on ``trained`` events (``loss_*``, judged) and on
    the ``held_out`` ones (``held_out_loss_*``, recorded)."""
    scores = [h.get("score") for h in history]
    health: dict[str, Any] = {"scores": scores, "steps": history[-1]["step"] if history else 0}
    if ks_quantities and history:
        best = min((s for s in scores if s is not None), default=None)
        health["mean_ks"] = None if best is None else best / ks_quantities
    if len(rows):
        generated = _selection_sample(fpipe, table, rows, conds, c_rows, seed, device)[1](net)
        health["outside"] = outside_fraction({f: generated[f] for f in fpipe.columns}, support)
    if untrained is not None:
        untrained.to(device).eval()
        for prefix, pair in (("", trained), ("held_out_", held_out)):
            if pair is None:
                continue
            x, c = (t.to(device) for t in pair)
            with torch.no_grad():
                health[f"{prefix}loss_untrained"] = untrained.validation_loss(x, c)
                health[f"{prefix}loss_selected"] = net.validation_loss(x, c)
    return health


def _train_efficiency(table: EventTable, cols: Columns, cpipe: Pipeline, pre: Preset | None,
                      settings: TrainSettings) -> EfficiencyClassifier:
    """Fit p(cols.efficiency = 1 | conditions) on every row (detected or not), with the preset's
    classifier settings; ``settings.steps`` overrides its steps."""
    assert cols.efficiency is not None and cols.conditions is not None
    conds = list(cols.conditions)
    rng = np.random.default_rng(settings.seed + 7)
    train_rows, val_rows = Split(DEFAULT_VAL_FRACTION).rows(np.arange(len(table)), rng)
    label = np.asarray(table[cols.efficiency], dtype=np.float32)
    c_train = cpipe.forward(_tensors(table, conds, train_rows))
    c_val = cpipe.forward(_tensors(table, conds, val_rows))
    y_train = torch.as_tensor(label[train_rows]).unsqueeze(1)
    y_val = torch.as_tensor(label[val_rows]).unsqueeze(1)
    values = dict((pre.train.get("efficiency", {}) if pre else {}) or EFFICIENCY_TRAINING)
    if settings.steps is not None:
        values["steps"] = settings.steps
    net = EfficiencyClassifier(c_train.shape[1], config=pre.hparams.get("efficiency") if pre else None)
    config = TrainConfig.from_mapping(values, seed=settings.seed, device=settings.device)
    Trainer(net, config, None, None, {}, "training efficiency", settings.quiet).fit(y_train, c_train, y_val, c_val)
    return net.cpu()
