"""Fit a model to an event table: :func:`train` returns a :class:`~flashgen.models.FlashModel`.

The steps are the same for every model, one function each: choose the columns (preset or
explicit, :func:`resolve_columns`), hold out a seeded validation split (:class:`Split`), fit the
preprocessing pipelines on the training part, build the network with validated hyperparameters
(:func:`model_hyperparameters`), train it with the one :class:`~flashgen.training.Trainer`
(selecting the snapshot by the sum of KS statistics on the held-out part,
:func:`ks_sum_scorer`, or by the model's held-out loss), train the detection-efficiency
classifier when the data have one, and bundle everything with the schema and provenance.
"""

from __future__ import annotations

import inspect
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..data import Column, EventTable, split_rows
from ..domain import Domain
from ..errors import FlashgenError
from ..models import DEFAULT_MODEL, FlashModel, RegressionTerm, get_model
from ..models.interface import GenerativeModel, LatentGenerator
from ..models.efficiency import EfficiencyClassifier
from ..sources.registry import Preset, get_preset, quantity
from ..transforms import Dequantize, Pipeline, Transform
from .trainer import TrainConfig, Trainer

__all__ = ["DEFAULT_VAL_FRACTION", "SELECT_LOSS", "Columns", "Split", "default_steps",
           "ks_sum_scorer", "model_hyperparameters", "resolve_columns", "train"]

SCORE_EVENTS = 10_000
"""Held-out events generated at each snapshot for the KS selection."""
SELECT_LOSS = "loss"
"""Selection by the model's own held-out loss instead of KS statistics."""
DEFAULT_VAL_FRACTION = 0.2
"""Held-out fraction for snapshot selection when neither the user nor a preset gives one."""
EFFICIENCY_TRAINING = {"steps": 2000, "batch_size": 1024}
"""Training of the efficiency classifier when no preset gives one."""


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
    """What a model learns: ``features`` given ``conditions``; ``efficiency`` is a 0/1 column
    learnt by a detection-efficiency classifier (features are then learnt where it is 1)."""

    features: list[str]
    conditions: list[str]
    efficiency: str | None

    @property
    def all(self) -> list[str]:
        return self.features + self.conditions + ([self.efficiency] if self.efficiency else [])


def resolve_columns(table: EventTable, preset: Preset | None, features: Sequence[str] | None,
                    conditions: Sequence[str] | None) -> Columns:
    """Explicit columns, else the preset's, else every numeric column that is not a condition."""
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
    columns = Columns(feats, cond, eff)
    table.select(columns.all)  # clear error for unknown columns
    return columns


def default_steps(features: list[str], dtypes: dict[str, np.dtype]) -> list[Transform]:
    """Preprocessing without a preset: dequantise integer-valued columns, standardise the rest."""
    return [Dequantize(f) for f in features if np.issubdtype(dtypes[f], np.integer)]


def model_hyperparameters(cls: type[GenerativeModel], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against the constructor of ``cls``: unknown names are a clear error.

    ``features``, ``context`` and ``regression`` are set by :func:`train`, not by the user.
    """
    params = inspect.signature(cls).parameters
    known = [n for n in params if n not in ("features", "context", "regression", "self")]
    unknown = [n for n in values if n not in known]
    if unknown:
        raise FlashgenError(f"bad hyperparameter for model '{cls.name}': unknown {', '.join(unknown)}; "
                            f"known: {', '.join(known)}")
    return dict(values)


def _versions() -> dict[str, str]:
    import zuko

    return {"flashgen": __version__, "torch": str(torch.__version__), "zuko": zuko.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _tensors(table: EventTable, names: Sequence[str], rows: np.ndarray) -> dict[str, torch.Tensor]:
    return {n: torch.as_tensor(np.asarray(table[n][rows], dtype=np.float64)) for n in names}


def train(table: EventTable, model: str = DEFAULT_MODEL, *, features: Sequence[str] | None = None,
          conditions: Sequence[str] | None = None, preset: str | None = None,
          steps: int | None = None, batch_size: int | None = None,
          snapshot_every: int | None = None, val_fraction: float | None = None,
          selection: Sequence[str] | None = None, validation: EventTable | None = None,
          seed: int = 0, device: str = "auto",
          checkpoint: str | os.PathLike[str] | None = None, resume: bool = False,
          quiet: bool = True, **hparams: Any) -> FlashModel:
    """Train a generative model of ``features`` (given ``conditions``) on ``table``.

    Arguments:
        table: training events.
        model: a registered model family (:data:`flashgen.models.MODELS`).
        features: columns to generate (default: the preset's, else every numeric column).
        conditions: columns to condition on (default: the preset's, else none).
        preset: a registered preset (:data:`flashgen.sources.registry.PRESETS`); its
            preprocessing is used when the features are the preset's.
        steps, batch_size, snapshot_every: training-loop overrides (``steps`` also sets the
            detection-efficiency classifier's).
        val_fraction: held-out fraction for snapshot selection (0: keep the last snapshot;
            default: the preset's, else 0.2), see :class:`Split`.
        selection: quantities whose KS sum selects the snapshot (columns or derived names), or
            ``["loss"]``: the model's held-out loss (negative log-likelihood for a flow).
        validation: held-out events for the selection; then every event of ``table`` is
            trained on and ``val_fraction`` is ignored (e.g. the out-of-bag events of a
            bootstrap resample, which must not be scored on events the model has seen).
        seed: seeds the split, the preprocessing noise, the initialisation and the training.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        checkpoint: file for resumable checkpoints; with ``resume=True`` training continues
            from it and ends exactly as an uninterrupted run.
        quiet: no progress bars.
        hparams: model constructor arguments (override the preset's).

    Returns:
        The trained :class:`FlashModel` (on the CPU).
    """
    cls = get_model(model)
    pre = get_preset(preset) if preset is not None else None
    cols = resolve_columns(table, pre, features, conditions)
    own = pre is not None and cols.features == list(pre.features) and cols.conditions == list(pre.conditions)
    split = Split.resolve(val_fraction, pre)

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
                     default_steps(feats, {f: table[f].dtype for f in feats}), conds)
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

    settings = {**(pre.train.get(model, {}) if pre else {}),
                **{k: v for k, v in {"steps": steps, "batch_size": batch_size,
                                     "snapshot_every": snapshot_every}.items() if v is not None}}
    config = TrainConfig(**settings, seed=seed, device=device)
    chosen = model_hyperparameters(cls, {**(pre.hparams.get(model, {}) if pre else {}), **hparams})

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        extra = {}
        if issubclass(cls, LatentGenerator) and own and pre is not None and pre.regression:
            extra["regression"] = _regression_terms(pre, fpipe, table, train_rows, conds)
        try:
            net = cls(features=x_train.shape[1], context=c_train.shape[1], **chosen, **extra)
        except (TypeError, ValueError) as err:
            raise FlashgenError(f"bad hyperparameter for model '{model}': {err}") from None
        quantities = list(selection or (pre.selection if pre and own else ()) or feats)
        # "loss": the model's own held-out loss (a flow's NLL; models without one keep the last
        # snapshot). For a conditional model the KS of marginals cannot see errors that show only
        # at fixed conditions: measured on the electron response, KS selection kept early
        # snapshots with KS 0.05-0.09 at fixed inputs where the NLL-selected ones reach 0.01.
        score = (None if quantities == [SELECT_LOSS] else
                 ks_sum_scorer(fpipe, table, val_rows, conds, c_val, quantities, seed, config.torch_device))
        fingerprint = {"model": model, "features": feats, "conditions": conds, "hparams": net.hparams,
                       "rows": len(table), "train_rows": len(train_rows), "preset": preset,
                       "checksum": float(np.nansum(x_train.numpy().astype(np.float64)))}
        result = Trainer(net, config, score, checkpoint, fingerprint, f"training {model}", quiet).fit(
            x_train, c_train, x_val, c_val, resume=resume)
        efficiency = None
        if cols.efficiency is not None:
            assert cpipe is not None
            efficiency = _train_efficiency(table, cols.efficiency, conds, cpipe, pre, seed, device,
                                           quiet, steps)

    schema = {n: table.columns[n] for n in cols.all}
    if cols.efficiency:
        for f in feats:
            c = schema[f]
            schema[f] = Column(c.name, c.unit, c.description, nullable=True)
    info = {
        "kind": model, "preset": preset, "features": feats, "conditions": conds,
        "train_events": int(len(train_rows)), "val_events": int(len(val_rows)),
        "selection": quantities, "config": asdict(config), "result": result.as_dict(),
        "source": source,
        "versions": _versions(), "seconds": time.perf_counter() - started,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if conds:  # where the conditions were seen: generation warns about rows outside it
        finite = np.all([np.isfinite(np.asarray(table[c], dtype=np.float64)) for c in conds], axis=0)
        info["domain"] = Domain.fit({c: np.asarray(table[c], dtype=np.float64)[finite] for c in conds}).state()
    dtypes = {n: str(table[n].dtype) for n in schema}
    return FlashModel(model, net.cpu(), fpipe, cpipe, schema, dtypes, efficiency, cols.efficiency, info)


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
    n = min(len(rows), SCORE_EVENTS)
    rows = rows[:n]
    phys = {k: np.asarray(table[k][rows], dtype=np.float64) for k in fpipe.columns + conds}
    reference = {q: np.asarray(quantity(q, phys), dtype=np.float64) for q in quantities}
    cond_cols = {k: torch.as_tensor(phys[k]) for k in conds} or None

    def score(net: Any) -> float:
        gen = torch.Generator(device=device).manual_seed(seed + 1)
        with torch.no_grad():
            z = net.sample(n, c_val[:n].to(device) if conds else None, gen)
            cols = fpipe.inverse(z.double().cpu(), cond_cols, torch.Generator().manual_seed(seed + 2))
        generated = {k: v.numpy() for k, v in cols.items()} | {k: phys[k] for k in conds}
        total = 0.0
        for q, ref in reference.items():
            sample = np.asarray(quantity(q, generated), dtype=np.float64)
            sample = sample[np.isfinite(sample)]
            total += 1.0 if len(sample) == 0 else ks_test(ref, sample).statistic
        return total

    return score


def _train_efficiency(table: EventTable, column: str, conds: list[str], cpipe: Pipeline,
                      pre: Preset | None, seed: int, device: str, quiet: bool,
                      steps: int | None = None) -> EfficiencyClassifier:
    """Fit p(column = 1 | conditions) on every row (detected or not); ``steps`` overrides."""
    rng = np.random.default_rng(seed + 7)
    train_rows, val_rows = Split(DEFAULT_VAL_FRACTION).rows(np.arange(len(table)), rng)
    label = np.asarray(table[column], dtype=np.float32)
    c_train = cpipe.forward(_tensors(table, conds, train_rows))
    c_val = cpipe.forward(_tensors(table, conds, val_rows))
    y_train = torch.as_tensor(label[train_rows]).unsqueeze(1)
    y_val = torch.as_tensor(label[val_rows]).unsqueeze(1)
    settings = dict((pre.train.get("efficiency", {}) if pre else {}) or EFFICIENCY_TRAINING)
    if steps is not None:
        settings["steps"] = steps
    net = EfficiencyClassifier(context=c_train.shape[1], **(pre.hparams.get("efficiency", {}) if pre else {}))
    config = TrainConfig(**settings, seed=seed, device=device)
    Trainer(net, config, None, None, {}, "training efficiency", quiet).fit(y_train, c_train, y_val, c_val)
    return net.cpu()
