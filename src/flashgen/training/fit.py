"""Fit a model to an event table: :func:`train` returns a :class:`~flashgen.models.FlashModel`.

The steps are the same for every model: choose columns (preset or explicit), hold out a seeded
validation split, fit the preprocessing pipelines on the training split, build the network, train
it with the one :class:`~flashgen.training.Trainer` (selecting the snapshot with the smallest sum
of KS statistics on the held-out split), train the detection-efficiency classifier when the data
have one, and bundle everything with the schema and provenance.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import stats

from .. import __version__
from ..data import Column, EventTable
from ..errors import FlashgenError
from ..models.efficiency import EfficiencyClassifier
from ..models.flashmodel import MODELS, FlashModel
from ..models.base import LatentGenerator
from ..models.gan import RegressionTerm
from ..transforms import Pipeline
from .presets import PRESETS, Preset, default_steps, quantity
from .trainer import TrainConfig, Trainer

__all__ = ["train"]

SCORE_EVENTS = 10_000  # held-out events generated at each snapshot for the KS selection
SELECT_LOSS = "loss"  # selection by the model's own held-out loss instead of KS statistics


def _versions() -> dict[str, str]:
    import zuko

    return {"flashgen": __version__, "torch": str(torch.__version__), "zuko": zuko.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _columns(table: EventTable, names: Sequence[str], rows: np.ndarray) -> dict[str, torch.Tensor]:
    return {n: torch.as_tensor(np.asarray(table[n][rows], dtype=np.float64)) for n in names}


def _resolve(table: EventTable, preset: Preset | None, features: Sequence[str] | None,
             conditions: Sequence[str] | None) -> tuple[list[str], list[str], str | None]:
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
    table.select(feats + cond + ([eff] if eff else []))  # clear error for unknown columns
    return feats, cond, eff


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_val = int(round(fraction * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def train(table: EventTable, model: str = "flow", *, features: Sequence[str] | None = None,
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
        model: ``"flow"``, ``"gan"`` or ``"wgan-gp"``.
        features: columns to generate (default: the preset's, else every numeric column).
        conditions: columns to condition on (default: the preset's, else none).
        preset: ``"zmumu"``, ``"electron"`` or ``"camelback"`` defaults (see
            :mod:`flashgen.training.presets`); the preset's preprocessing is used when the
            features are the preset's.
        steps, batch_size, snapshot_every: training-loop overrides (``steps`` also sets the
            detection-efficiency classifier's).
        val_fraction: held-out fraction for snapshot selection (0: keep the last snapshot).
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
    if model not in MODELS:
        raise FlashgenError(f"unknown model '{model}'; choose from {', '.join(MODELS)}")
    if preset is not None and preset not in PRESETS:
        raise FlashgenError(f"unknown preset '{preset}'; choose from {', '.join(PRESETS)}")
    pre = PRESETS[preset] if preset else None
    feats, conds, eff_col = _resolve(table, pre, features, conditions)
    own_steps = pre is not None and feats == list(pre.features) and conds == list(pre.conditions)
    fraction = val_fraction if val_fraction is not None else (pre.val_fraction if pre else 0.2)
    if not 0 <= fraction < 1:
        raise FlashgenError(f"validation fraction must be in [0, 1), got {fraction}")

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_train_table = len(table)
    source = {k: table.meta.get(k) for k in ("source", "producer", "seed", "command")}
    if validation is not None:
        needed = feats + conds + ([eff_col] if eff_col else [])
        table = EventTable.concat([table.select(needed), validation.select(needed)])
    rows = np.flatnonzero(table[eff_col] == 1) if eff_col else np.arange(len(table))
    if validation is not None:
        train_rows, val_rows = rows[rows < n_train_table], rows[rows >= n_train_table]
    else:
        train_rows, val_rows = _split(len(rows), fraction, rng)
        train_rows, val_rows = rows[train_rows], rows[val_rows]
    if len(train_rows) < 2:
        raise FlashgenError(f"too few training events ({len(train_rows)}); need at least 2")

    gen = torch.Generator().manual_seed(seed)
    fpipe = Pipeline(feats, pre.feature_steps() if own_steps else
                     default_steps(feats, {f: table[f].dtype for f in feats}), conds)
    x_train = fpipe.fit(_columns(table, feats + conds, train_rows), gen)
    x_val = fpipe.forward(_columns(table, feats + conds, val_rows), gen)
    cpipe = None
    c_train = torch.zeros((len(train_rows), 0))
    c_val = torch.zeros((len(val_rows), 0))
    if conds:
        cpipe = Pipeline(conds, pre.condition_steps() if own_steps else [])
        c_train = cpipe.fit(_columns(table, conds, train_rows), gen)
        c_val = cpipe.forward(_columns(table, conds, val_rows), gen)
    if x_train.shape[1] == 0:
        raise FlashgenError("nothing to learn: every feature is fixed by the conditions")

    defaults = pre.hparams.get(model, {}) if pre else {}
    settings = {**(pre.train.get(model, {}) if pre else {}),
                **{k: v for k, v in {"steps": steps, "batch_size": batch_size,
                                     "snapshot_every": snapshot_every}.items() if v is not None}}
    config = TrainConfig(**settings, seed=seed, device=device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            net = MODELS[model](features=x_train.shape[1], context=c_train.shape[1], **{**defaults, **hparams})
        except TypeError as err:
            raise FlashgenError(f"bad hyperparameter for model '{model}': {err}") from None
        if isinstance(net, LatentGenerator) and pre is not None and own_steps and pre.regression:
            net.regression = _regression_terms(pre, fpipe, table, train_rows, conds)
        quantities = list(selection or (pre.selection if pre and own_steps else ()) or feats)
        # "loss": the model's own held-out loss (a flow's NLL; models without one keep the last
        # snapshot). For a conditional model the KS of marginals cannot see errors that show only
        # at fixed conditions: measured on the electron response, KS selection kept early
        # snapshots with KS 0.05-0.09 at fixed inputs where the NLL-selected ones reach 0.01.
        score = (None if quantities == [SELECT_LOSS] else
                 _ks_score(fpipe, cpipe, table, val_rows, conds, c_val, quantities, seed, config))
        fingerprint = {"model": model, "features": feats, "conditions": conds, "hparams": net.hparams,
                       "rows": len(table), "train_rows": len(train_rows), "preset": preset,
                       "checksum": float(np.nansum(x_train.numpy().astype(np.float64)))}
        result = Trainer(net, config, score, checkpoint, fingerprint, f"training {model}", quiet).fit(
            x_train, c_train, x_val, c_val, resume=resume)
        efficiency = None
        if eff_col is not None:
            assert cpipe is not None
            efficiency = _train_efficiency(table, eff_col, conds, cpipe, pre, seed, device, quiet, steps)

    schema = {n: table.columns[n] for n in feats + conds + ([eff_col] if eff_col else [])}
    if eff_col:
        for f in feats:
            c = schema[f]
            schema[f] = Column(c.name, c.unit, c.description, nullable=True)
    info = {
        "kind": model, "preset": preset, "features": feats, "conditions": conds,
        "train_events": int(len(train_rows)), "val_events": int(len(val_rows)),
        "selection": quantities, "config": {**config.__dict__}, "result": result.as_dict(),
        "source": source,
        "versions": _versions(), "seconds": time.perf_counter() - started,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    dtypes = {n: str(table[n].dtype) for n in schema}
    return FlashModel(model, net.cpu(), fpipe, cpipe, schema, dtypes, efficiency, eff_col, info)


def _regression_terms(pre: Preset, fpipe: Pipeline, table: EventTable, rows: np.ndarray,
                      conds: list[str]) -> list[RegressionTerm]:
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

        terms.append(RegressionTerm(name, function, float(values.mean()), float(values.std()), w_mean, w_std))
    return terms


def _ks_score(fpipe: Pipeline, cpipe: Pipeline | None, table: EventTable, rows: np.ndarray,
              conds: list[str], c_val: torch.Tensor, quantities: list[str], seed: int,
              config: TrainConfig) -> Any:
    """The seed analysis' selection criterion: sum of KS statistics, generated vs held out."""
    if len(rows) == 0:
        return lambda net: None  # nothing held out: the last snapshot is kept
    n = min(len(rows), SCORE_EVENTS)
    rows = rows[:n]
    phys = {k: np.asarray(table[k][rows], dtype=np.float64) for k in fpipe.columns + conds}
    reference = {q: np.asarray(quantity(q, phys), dtype=np.float64) for q in quantities}
    cond_cols = {k: torch.as_tensor(phys[k]) for k in conds} or None
    device = config.torch_device

    def score(net: Any) -> float:
        gen = torch.Generator(device=device).manual_seed(seed + 1)
        with torch.no_grad():
            z = net.sample(n, c_val[:n].to(device) if cpipe is not None else None, gen)
            cols = fpipe.inverse(z.double().cpu(), cond_cols, torch.Generator().manual_seed(seed + 2))
        generated = {k: v.numpy() for k, v in cols.items()} | {k: phys[k] for k in conds}
        total = 0.0
        for q, ref in reference.items():
            sample = np.asarray(quantity(q, generated), dtype=np.float64)
            sample = sample[np.isfinite(sample)]
            total += 1.0 if len(sample) == 0 else float(stats.ks_2samp(sample, ref).statistic)
        return total

    return score


def _train_efficiency(table: EventTable, column: str, conds: list[str], cpipe: Pipeline,
                      pre: Preset | None, seed: int, device: str, quiet: bool,
                      steps: int | None = None) -> EfficiencyClassifier:
    """Fit p(column = 1 | conditions) on every row (detected or not); ``steps`` overrides."""
    rng = np.random.default_rng(seed + 7)
    train_rows, val_rows = _split(len(table), 0.2, rng)
    label = np.asarray(table[column], dtype=np.float32)
    c_train = cpipe.forward(_columns(table, conds, train_rows))
    c_val = cpipe.forward(_columns(table, conds, val_rows))
    y_train = torch.as_tensor(label[train_rows]).unsqueeze(1)
    y_val = torch.as_tensor(label[val_rows]).unsqueeze(1)
    settings = dict((pre.train.get("efficiency", {}) if pre else {}) or {"steps": 2000, "batch_size": 1024})
    if steps is not None:
        settings["steps"] = steps
    net = EfficiencyClassifier(context=c_train.shape[1], **(pre.hparams.get("efficiency", {}) if pre else {}))
    config = TrainConfig(**settings, seed=seed, device=device)
    Trainer(net, config, None, None, {}, "training efficiency", quiet).fit(y_train, c_train, y_val, c_val)
    return net.cpu()
