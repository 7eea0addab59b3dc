"""Train an ensemble into one model file: ``flashgen train --ensemble M``.

Member ``m`` is trained by :func:`flashgen.training.train` on bootstrap resample ``m // 2`` of the
training table (``len(table)`` rows drawn with replacement) with its own seed, so members ``2b``
and ``2b + 1`` see the same events and differ only in the optimisation. The spread between
resamples is the uncertainty the generated sample inherits from its training sample; the spread
within a pair is optimisation noise, which pooling the members averages away
(:mod:`flashgen.stats.histogram_worth`). Snapshots are selected on the rows a member's resample left out
(~37 %), never on events it saw.

Members are trained (in parallel over ``workers`` processes) into a work folder beside the output,
``OUT.members/`` with a manifest of the settings; a rerun with the same settings skips finished
members (resume). When all are done they are packed into the one file ``OUT``
(:class:`~flashgen.models.EnsembleModel`) and the work folder is removed. A member that fails its
health check (:mod:`flashgen.training.health`) stops the ensemble with one error naming the member;
no ensemble file is written and the members already finished stay in the work folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import EventTable
from ..errors import FlashgenError
from ..files import plain
from ..manifest import Manifest
from ..models import DEFAULT_MODEL
from ..models.ensemble import EnsembleModel
from ..models.config import ModelConfig
from ..models.flashmodel import FlashModel
from ..seeds import derive_seed
from ..executor import Workers, run_tasks
from .fit import Columns, Split, TrainSettings, model_config, train
from .health import UnhealthyModel

__all__ = ["COPIES", "MIN_MEMBERS", "Workers", "train_ensemble", "work_folder"]

COPIES = 2
"""Members per bootstrap resample (differing only in seed)."""
MIN_MEMBERS = 4
"""Smallest ensemble that separates the training-sample variance (2 resamples) from the
optimisation noise (2 seeds per resample)."""
MANIFEST = "ensemble.json"


def work_folder(out: str | os.PathLike[str]) -> Path:
    """Where the members of the ensemble file ``out`` are trained before packing."""
    p = Path(out)
    return p.with_name(p.name + ".members")


def _member_file(folder: Path, index: int) -> Path:
    return folder / f"member_{index:03d}.pt"


def _checksum(table: EventTable) -> str:
    digest = hashlib.sha256()
    for name in sorted(table.names):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(table[name]).tobytes())
    return digest.hexdigest()[:16]


def _needed_columns(table: EventTable, columns: Columns, preset: str | None) -> EventTable:
    """Only the columns training will read (so workers receive less data)."""
    from ..sources.registry import get_preset

    features, conditions = columns.features, columns.conditions
    pre = get_preset(preset) if preset else None
    feats = list(features) if features is not None else (list(pre.features) if pre else None)
    if feats is None:
        return table
    conds = list(conditions) if conditions is not None else (list(pre.conditions) if pre else [])
    extra = [pre.efficiency] if pre is not None and pre.efficiency and pre.efficiency in table else []
    return table.select(list(dict.fromkeys(feats + conds + extra)))


def resample_rows(n: int, seed: int, member: int) -> np.ndarray:
    """Rows of the bootstrap resample of member ``member``: resample ``member // COPIES``."""
    return np.random.default_rng(derive_seed(seed, member // COPIES, 0)).integers(0, n, n)


@dataclass(frozen=True)
class _MemberTask:
    table: EventTable
    index: int
    path: Path
    model: str
    columns: Columns
    preset: str | None
    settings: TrainSettings
    config: ModelConfig
    digest: str = ""
    members: int = 0


def _train_member(task: _MemberTask) -> Path:
    from ..sources.registry import get_preset

    n = len(task.table)
    rows = resample_rows(n, task.settings.seed, task.index)
    split = Split.resolve(task.settings.val_fraction, get_preset(task.preset) if task.preset else None)
    validation = task.table.take(np.setdiff1d(np.arange(n), rows)) if split.val_fraction > 0 else None
    settings = replace(task.settings, seed=derive_seed(task.settings.seed, task.index, 1))
    try:
        model = train(task.table.take(rows), task.model, columns=task.columns, preset=task.preset,
                      settings=settings, config=task.config, validation=validation)
    except UnhealthyModel as err:
        raise UnhealthyModel(f"ensemble member {task.index} of {task.members}: {err} (finished members "
                             f"stay in {task.path.parent})") from None
    model.info = plain({**model.info, "bootstrap": {"member": task.index, "resample": task.index // COPIES,
                                                     "seed": task.settings.seed, "events": n,
                                                     "ensemble": task.digest}})
    model.save(task.path)
    return task.path


def _digest(manifest: Mapping[str, Any]) -> str:
    """A short digest of an ensemble's settings and training data (each member records it)."""
    import json

    return hashlib.sha256(json.dumps(plain(dict(manifest)), sort_keys=True).encode()).hexdigest()[:16]


def _finished(path: Path, index: int, seed: int, digest: str) -> bool:
    """Whether ``path`` holds member ``index`` of this ensemble (an unreadable file is retrained);
    a member of another ensemble (other settings or data) is refused, never packed."""
    if not path.is_file():
        return False
    try:
        info = FlashModel.load(path).info.get("bootstrap", {})
    except FlashgenError:
        return False
    if info.get("ensemble") != digest or info.get("member") != index or info.get("seed") != seed:
        raise FlashgenError(f"{path} is not member {index} of this ensemble (it was trained with other "
                            f"settings or data); delete it, or the folder {path.parent}, to train it anew")
    return True


def train_ensemble(table: EventTable, m: int, model: str = DEFAULT_MODEL, *, out: str | os.PathLike[str],
                   columns: Columns | None = None, preset: str | None = None,
                   settings: TrainSettings | None = None,
                   config: ModelConfig | Mapping[str, Any] | None = None,
                   workers: Workers | None = None) -> EnsembleModel:
    """Train ``m`` members (pairs per bootstrap resample) and write them to the one file ``out``.

    Arguments:
        table: the training events.
        m: number of members (>= :data:`MIN_MEMBERS`; 10 or more for a steady band).
        model: a registered model family (:data:`flashgen.models.MODELS`).
        out: the ensemble file to write (its parent must exist); members are trained in
            :func:`work_folder` and a rerun resumes there.
        columns, preset, settings, config: as for :func:`flashgen.training.train`;
            ``settings.seed`` is the master seed of the resampling and of every member's
            training; ``settings.quiet``: no progress bars inside the member trainings.
        workers: where the members train (default: one after the other in this process).

    Returns:
        The written :class:`~flashgen.models.EnsembleModel`.
    """
    settings = settings if settings is not None else TrainSettings()
    workers = workers if workers is not None else Workers()
    columns = columns if columns is not None else Columns()
    if m < MIN_MEMBERS:
        raise FlashgenError(f"an ensemble needs at least {MIN_MEMBERS} members ({MIN_MEMBERS // COPIES} "
                            f"bootstrap resamples x {COPIES} seeds) to state an inherited uncertainty, got {m}")
    if len(table) < 2:
        raise FlashgenError(f"need at least 2 training events for a bootstrap, got {len(table)}")
    chosen = model_config(model, preset, config)
    folder = work_folder(out)
    data = _needed_columns(table, columns, preset)
    features = list(columns.features) if columns.features is not None else None
    conditions = list(columns.conditions) if columns.conditions is not None else None
    recorded = {k: v for k, v in asdict(settings).items() if k not in ("device", "quiet")}
    preprocessing = dict(columns.preprocessing)
    manifest = {"model": model, "features": features, "conditions": conditions, "preset": preset,
                **({"preprocessing": preprocessing} if preprocessing else {}),
                **recorded, **{f"{model}.{k}": v for k, v in chosen.plain().items()}, "members": m,
                "events": len(data), "data_checksum": _checksum(data)}
    Manifest.open(folder, MANIFEST, manifest, what="training of an ensemble",
                  hint=f"delete {folder} to start over, or train with the same settings to resume")
    seed = settings.seed
    digest = _digest(manifest)
    todo = [i for i in range(m) if not _finished(_member_file(folder, i), i, seed, digest)]
    member_settings = replace(settings, quiet=settings.quiet or workers.parallel)
    member_columns = Columns(features, conditions, preprocessing=preprocessing)
    tasks = [_MemberTask(data, i, _member_file(folder, i), model, member_columns, preset, member_settings, chosen,
                         digest, m) for i in todo]
    for _ in run_tasks(_train_member, tasks, workers=workers.count, scheduler=workers.scheduler,
                       desc="ensemble members", extra="dask"):
        pass
    members = [FlashModel.load(_member_file(folder, i)) for i in range(m)]
    ensemble = EnsembleModel(members, {"ensemble": {
        "members": m, "copies": COPIES, "resamples": -(-m // COPIES), "seed": seed,
        "train_events": len(data), "groups": [i // COPIES for i in range(m)]}})
    ensemble.save(out)
    shutil.rmtree(folder, ignore_errors=True)
    return ensemble
