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
(:class:`~flashgen.models.EnsembleModel`) and the work folder is removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import EventTable
from ..errors import FlashgenError
from ..files import plain
from ..manifest import Manifest
from ..models import DEFAULT_MODEL
from ..models.ensemble import EnsembleModel
from ..models.flashmodel import FlashModel
from ..seeds import derive_seed
from ..executor import run_tasks

__all__ = ["COPIES", "MIN_MEMBERS", "train_ensemble", "work_folder"]

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


def _needed_columns(table: EventTable, features: Sequence[str] | None, conditions: Sequence[str] | None,
                    preset: str | None) -> EventTable:
    """Only the columns training will read (so workers receive less data)."""
    from ..sources.registry import get_preset

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
    features: list[str] | None
    conditions: list[str] | None
    preset: str | None
    steps: int | None
    seed: int
    quiet: bool = True
    hyperparameters: dict[str, Any] = field(default_factory=dict)


def _train_member(task: _MemberTask) -> Path:
    from ..sources.registry import get_preset
    from . import Split, train

    n = len(task.table)
    rows = resample_rows(n, task.seed, task.index)
    split = Split.resolve(task.hyperparameters.get("val_fraction"),
                          get_preset(task.preset) if task.preset else None)
    validation = task.table.take(np.setdiff1d(np.arange(n), rows)) if split.val_fraction > 0 else None
    model = train(task.table.take(rows), task.model, features=task.features, conditions=task.conditions,
                  preset=task.preset, steps=task.steps, seed=derive_seed(task.seed, task.index, 1),
                  validation=validation, quiet=task.quiet, **task.hyperparameters)
    model.info = plain({**model.info, "bootstrap": {"member": task.index, "resample": task.index // COPIES,
                                                     "seed": task.seed, "events": n}})
    model.save(task.path)
    return task.path


def _finished(path: Path, index: int, seed: int) -> bool:
    if not path.is_file():
        return False
    try:
        info = FlashModel.load(path).info.get("bootstrap", {})
    except FlashgenError:
        return False
    return info.get("member") == index and info.get("seed") == seed


def train_ensemble(table: EventTable, m: int, model: str = DEFAULT_MODEL, *, out: str | os.PathLike[str],
                   features: Sequence[str] | None = None, conditions: Sequence[str] | None = None,
                   preset: str | None = None, steps: int | None = None, seed: int = 0,
                   workers: int = 1, scheduler: str | None = None, quiet: bool = True,
                   **hyperparameters: Any) -> EnsembleModel:
    """Train ``m`` members (pairs per bootstrap resample) and write them to the one file ``out``.

    Arguments:
        table: the training events.
        m: number of members (>= :data:`MIN_MEMBERS`; 10 or more for a steady band).
        model: a registered model family (:data:`flashgen.models.MODELS`).
        out: the ensemble file to write (its parent must exist); members are trained in
            :func:`work_folder` and a rerun resumes there.
        features, conditions, preset, steps, hyperparameters: as for :func:`flashgen.training.train`.
        seed: master seed of the resampling and of every member's training.
        workers: parallel trainings on a local Dask cluster (processes with one torch thread
            each); 1 trains in this process. Every member trains with one torch thread wherever
            it runs, so the file does not depend on ``workers`` or ``scheduler``.
        scheduler: address of a running Dask scheduler whose workers train the members.
        quiet: no progress bars inside the member trainings.

    Returns:
        The written :class:`~flashgen.models.EnsembleModel`.
    """
    if m < MIN_MEMBERS:
        raise FlashgenError(f"an ensemble needs at least {MIN_MEMBERS} members ({MIN_MEMBERS // COPIES} "
                            f"bootstrap resamples x {COPIES} seeds) to state an inherited uncertainty, got {m}")
    if len(table) < 2:
        raise FlashgenError(f"need at least 2 training events for a bootstrap, got {len(table)}")
    folder = work_folder(out)
    data = _needed_columns(table, features, conditions, preset)
    recorded = {k: v for k, v in hyperparameters.items() if k != "device"}
    settings = {"model": model, "features": list(features) if features is not None else None,
                "conditions": list(conditions) if conditions is not None else None, "preset": preset,
                "steps": steps, "seed": seed, "hyperparameters": recorded, "members": m,
                "events": len(data), "data_checksum": _checksum(data)}
    Manifest.open(folder, MANIFEST, settings, what="training of an ensemble",
                  hint=f"delete {folder} to start over, or train with the same settings to resume")
    todo = [i for i in range(m) if not _finished(_member_file(folder, i), i, seed)]
    tasks = [_MemberTask(data, i, _member_file(folder, i), model, settings["features"],
                         settings["conditions"], preset, steps, seed, quiet or workers > 1 or scheduler is not None,
                         dict(hyperparameters))
             for i in todo]
    for _ in run_tasks(_train_member, tasks, workers=workers, scheduler=scheduler,
                         desc="ensemble members", extra="dask"):
        pass
    members = [FlashModel.load(_member_file(folder, i)) for i in range(m)]
    ensemble = EnsembleModel(members, {"ensemble": {
        "members": m, "copies": COPIES, "resamples": -(-m // COPIES), "seed": seed,
        "train_events": len(data), "groups": [i // COPIES for i in range(m)]}})
    ensemble.save(out)
    shutil.rmtree(folder, ignore_errors=True)
    return ensemble
