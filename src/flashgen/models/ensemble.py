"""An ensemble of trained models in one file: what ``flashgen train --ensemble M`` writes.

Member ``m`` was trained on bootstrap resample ``m // 2`` of the training table with its own seed
(:func:`flashgen.training.bootstrap.train_ensemble`), so pairs of members differ only in the
optimisation; :mod:`flashgen.stats.histogram_worth` uses that to split the uncertainty a generated sample
inherits from its training sample from the optimisation noise. Generation
(:mod:`flashgen.generation`) splits every chunk evenly over the members and adds an integer
column ``member``.

The file is a ``torch.save`` of ``{"format": "flashgen-ensemble", "members": [payload, ...],
"info": {...}}``, each member the payload of a :class:`~flashgen.models.FlashModel` file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..data import Column
from ..errors import FlashgenError
from ..files import plain
from .flashmodel import ENSEMBLE_FORMAT, FORMAT_VERSION, FlashModel, read_payload, save_payload

__all__ = ["MEMBER_COLUMN", "EnsembleModel", "load_model"]

MEMBER_COLUMN = Column("member", "", "ensemble member that generated the event (members 2b, 2b+1 "
                       "share bootstrap resample b)")


class EnsembleModel:
    """``M >= 2`` trained models of one family, preprocessing and schema generated as one.

    Arguments:
        members: the trained members (same family, features and conditions).
        info: how the ensemble was trained (free, JSON-like).
    """

    def __init__(self, members: Sequence[FlashModel], info: dict[str, Any] | None = None) -> None:
        if len(members) < 2:
            raise FlashgenError(f"an ensemble needs at least 2 members, got {len(members)}")
        first = members[0]
        for m in members[1:]:
            if (m.kind, m.feature_names, m.condition_names) != (first.kind, first.feature_names,
                                                                 first.condition_names):
                raise FlashgenError("ensemble members differ in family, features or conditions")
        self.members = list(members)
        self.info = {**first.info, **(info or {})}

    # the FlashModel interface generation needs ------------------------------------------------

    @property
    def kind(self) -> str:
        return self.members[0].kind

    @property
    def feature_names(self) -> list[str]:
        return self.members[0].feature_names

    @property
    def condition_names(self) -> list[str]:
        return self.members[0].condition_names

    @property
    def conditions(self) -> Any:
        return self.members[0].conditions

    @property
    def dtypes(self) -> dict[str, str]:
        return {**self.members[0].dtypes, MEMBER_COLUMN.name: "int16"}

    @property
    def schema(self) -> dict[str, Column]:
        return {**self.members[0].schema, MEMBER_COLUMN.name: MEMBER_COLUMN}

    @property
    def output_columns(self) -> list[Column]:
        """The members' columns, then ``member``."""
        return self.members[0].output_columns + [MEMBER_COLUMN]

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    @property
    def support(self) -> dict[str, tuple[float, float]]:
        """The union over members of their supports (:attr:`FlashModel.support`); empty when a
        member lacks one."""
        supports = [m.support for m in self.members]
        if not all(supports):
            return {}
        return {name: (min(s[name][0] for s in supports), max(s[name][1] for s in supports))
                for name in supports[0]}

    def to(self, device: str | torch.device) -> EnsembleModel:
        for m in self.members:
            m.to(device)
        return self

    def n_parameters(self) -> int:
        """Weights of all members together."""
        return sum(m.n_parameters() for m in self.members)

    def __len__(self) -> int:
        return len(self.members)

    # file ---------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the ensemble file atomically; returns its path."""
        ensemble_info = {k: v for k, v in self.info.items() if k == "ensemble"}
        return save_payload({"format": ENSEMBLE_FORMAT, "format_version": FORMAT_VERSION,
                             "members": [m.payload() for m in self.members],
                             "info": plain(ensemble_info)}, path)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], origin: str | os.PathLike[str]) -> EnsembleModel:
        members = payload.get("members")
        if not isinstance(members, list) or len(members) < 2:
            raise FlashgenError(f"{origin} is a damaged ensemble file (no members)")
        if payload.get("format_version", 0) > FORMAT_VERSION:
            raise FlashgenError(f"{origin} was written by a newer flashgen; upgrade flashgen to read it")
        return cls([FlashModel.from_payload(m, f"{origin} member {i}") for i, m in enumerate(members)],
                   dict(payload.get("info") or {}))


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> FlashModel | EnsembleModel:
    """The model in a file written by ``flashgen train``: a :class:`FlashModel`, or an
    :class:`EnsembleModel` for a file written with ``--ensemble``."""
    payload = read_payload(path)
    if payload.get("format") == ENSEMBLE_FORMAT:
        return EnsembleModel.from_payload(payload, path).to(device)
    return FlashModel.from_payload(payload, path).to(device)
