"""Bootstrap ensembles: the uncertainty a generated sample inherits from its training sample.

Where no exact truth exists (Z->mumu), train ``M`` models on bootstrap resamples of the training
table (:func:`train_ensemble`), generate ``N`` events per member (:meth:`Ensemble.sample`) and
take, per histogram bin of any observable, the spread of the members' predictions
(:func:`flashgen.stats.bands.histogram_band`) as the inherited uncertainty.

The ensemble is a folder: ``ensemble.json`` (the settings, checked on resume) and one model file
per member, ``member_000.pt`` ... written atomically. Rerunning :func:`train_ensemble` with the
same settings skips members whose file is valid, so an interrupted run resumes.

References:
    Matchev, Roman, Shyamsundar, "Uncertainties associated with GAN-generated datasets in high
    energy physics", SciPost Phys. 12 (2022) 104, arXiv:2002.06307.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Column, EventTable
from ..errors import FlashgenError
from ..files import plain, read_json
from ..generation import sample
from ..manifest import Manifest
from ..models import DEFAULT_MODEL
from ..seeds import derive_seed
from .parallel import map_tasks

__all__ = ["Ensemble", "MANIFEST", "member_path", "train_ensemble"]

MANIFEST = "ensemble.json"
MEMBER_COLUMN = Column("member", "", "bootstrap ensemble member index")


def member_path(out_dir: str | os.PathLike[str], index: int) -> Path:
    """File of member ``index`` in an ensemble folder."""
    return Path(out_dir) / f"member_{index:03d}.pt"


def _checksum(table: EventTable) -> str:
    digest = hashlib.sha256()
    for name in sorted(table.names):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(table[name]).tobytes())
    return digest.hexdigest()[:16]


def _needed_columns(table: EventTable, features: Sequence[str] | None, conditions: Sequence[str] | None,
                    preset: str | None) -> EventTable:
    """Only the columns training will read (so workers receive less data)."""
    from ..sources.profile import get_preset

    pre = get_preset(preset) if preset else None
    feats = list(features) if features is not None else (list(pre.features) if pre else None)
    if feats is None:
        return table
    conds = list(conditions) if conditions is not None else (list(pre.conditions) if pre else [])
    extra = [pre.efficiency] if pre is not None and pre.efficiency and pre.efficiency in table else []
    return table.select(list(dict.fromkeys(feats + conds + extra)))


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
    from ..training import train

    n = len(task.table)
    rows = np.random.default_rng(derive_seed(task.seed, task.index, 0)).integers(0, n, n)
    # Snapshots are selected on the out-of-bag events (~37 %), never on events the member saw
    # (unless the settings keep the last snapshot: a validation fraction of 0).
    from ..sources.profile import get_preset
    from ..training import Split

    split = Split.resolve(task.hyperparameters.get("val_fraction"),
                          get_preset(task.preset) if task.preset else None)
    validation = task.table.take(np.setdiff1d(np.arange(n), rows)) if split.val_fraction > 0 else None
    model = train(task.table.take(rows), task.model, features=task.features, conditions=task.conditions,
                  preset=task.preset, steps=task.steps, seed=derive_seed(task.seed, task.index, 1),
                  validation=validation, quiet=task.quiet, **task.hyperparameters)
    info = {**model.info, "bootstrap": {"member": task.index, "seed": task.seed, "events": n}}
    model.info = plain(info)  # plain values only in the model file
    model.save(task.path)
    return task.path


def _is_valid_member(path: Path, index: int, seed: int) -> bool:
    from ..models import FlashModel

    if not path.is_file():
        return False
    try:
        info = FlashModel.load(path).info.get("bootstrap", {})
    except FlashgenError:
        return False
    return info.get("member") == index and info.get("seed") == seed


def train_ensemble(table: EventTable, m: int, model: str = DEFAULT_MODEL, *,
                   features: Sequence[str] | None = None, conditions: Sequence[str] | None = None,
                   preset: str | None = None, steps: int | None = None, seed: int = 0,
                   workers: int = 1, out_dir: str | os.PathLike[str], quiet: bool = True,
                   **hyperparameters: Any) -> Ensemble:
    """Train ``m`` models on bootstrap resamples of ``table`` into the folder ``out_dir``.

    Member ``i`` is trained on ``len(table)`` rows drawn with replacement (seeded by ``seed`` and
    ``i``) by :func:`flashgen.training.train`. Members whose file already exists and is a valid
    model of this ensemble are skipped (resume); a folder holding an ensemble with other settings
    or data is refused.

    Arguments:
        table: the training events.
        m: number of members (>= 2; 10 or more for a band).
        model: a registered model family (:data:`flashgen.models.MODELS`).
        features, conditions, preset, steps, hyperparameters: as for :func:`flashgen.training.train`.
        seed: master seed of the resampling and of every member's training.
        workers: processes training members in parallel (one torch thread each).
        out_dir: ensemble folder (created if missing; its parent must exist).
        quiet: no progress bars inside the member trainings (the members' bar follows
            :func:`flashgen.progress.set_quiet`).

    Returns:
        The :class:`Ensemble` of the ``m`` members.
    """
    if m < 2:
        raise FlashgenError(f"an ensemble needs at least 2 members, got {m}")
    if len(table) < 2:
        raise FlashgenError(f"need at least 2 training events for a bootstrap, got {len(table)}")
    out = Path(out_dir)
    data = _needed_columns(table, features, conditions, preset)
    # settings that change the members (checked on resume); the device only changes where they run
    recorded = {k: v for k, v in hyperparameters.items() if k != "device"}
    settings = {"model": model, "features": list(features) if features is not None else None,
                "conditions": list(conditions) if conditions is not None else None, "preset": preset,
                "steps": steps, "seed": seed, "hyperparameters": recorded,
                "events": len(data), "data_checksum": _checksum(data)}
    manifest = Manifest.open(out, MANIFEST, settings, what="bootstrap ensemble", allow_foreign=True,
                             hint="choose another folder or delete it")
    manifest.state["members"] = max(m, int(manifest.state.get("members", m)))
    manifest.save()
    todo = [i for i in range(m) if not _is_valid_member(member_path(out, i), i, seed)]
    tasks = [_MemberTask(data, i, member_path(out, i), model,
                         settings["features"], settings["conditions"], preset, steps, seed,
                         quiet or workers > 1, dict(hyperparameters))
             for i in todo]
    for _ in map_tasks(_train_member, tasks, workers, desc="bootstrap members"):
        pass
    return Ensemble([member_path(out, i) for i in range(m)])


class Ensemble:
    """Members of a bootstrap ensemble, sampled together into one table with a ``member`` column.

    Arguments:
        paths: member model files (at least 2).
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.paths = [Path(p) for p in paths]
        if len(self.paths) < 2:
            raise FlashgenError(f"an ensemble needs at least 2 members, got {len(self.paths)}")
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise FlashgenError(f"ensemble member file(s) missing: {', '.join(missing[:3])}"
                                + (" ..." if len(missing) > 3 else "") + "; rerun the training to resume")
        self._models: dict[int, Any] = {}

    @classmethod
    def load(cls, out_dir: str | os.PathLike[str]) -> Ensemble:
        """The ensemble in folder ``out_dir`` (written by :func:`train_ensemble`)."""
        out = Path(out_dir)
        manifest = out / MANIFEST
        if not manifest.is_file():
            raise FlashgenError(f"{out} is not an ensemble folder (no {MANIFEST}); train one with "
                                "'flashgen train --bootstrap M'")
        try:
            m = int(read_json(manifest, what="ensemble manifest")["members"])
        except (FlashgenError, ValueError, KeyError, TypeError):
            raise FlashgenError(f"{manifest} is unreadable; retrain the ensemble") from None
        return cls([member_path(out, i) for i in range(m)])

    def __len__(self) -> int:
        return len(self.paths)

    def model(self, index: int) -> Any:
        """The :class:`~flashgen.models.FlashModel` of member ``index`` (loaded once)."""
        from ..models import FlashModel

        if index not in self._models:
            self._models[index] = FlashModel.load(self.paths[index])
        return self._models[index]

    def sample(self, n: int, *, seed: int = 0, conditions: EventTable | None = None) -> EventTable:
        """``n`` events from every member (or one per condition row each), concatenated.

        Arguments:
            n: events per member.
            seed: master seed; member ``i`` samples with an independent seed derived from it.
            conditions: condition table for conditional models.

        Returns:
            A table of ``len(self) * n`` rows (members in order) with an extra integer column
            ``member`` (0 ... M-1).
        """
        if n < 1 and conditions is None:
            raise FlashgenError(f"need at least 1 event per member, got {n}")
        parts = []
        for i in range(len(self)):
            part = sample(self.model(i), n, seed=derive_seed(seed, i, 2), conditions=conditions)
            part.data["member"] = np.full(len(part), i, dtype=np.int32)
            part.columns["member"] = MEMBER_COLUMN
            parts.append(part)
        table = EventTable.concat(parts)
        table.meta.update({"producer": "flashgen generate --ensemble", "seed": seed, "members": len(self),
                           "ensemble": [str(p) for p in self.paths]})
        return table
