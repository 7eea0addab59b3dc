"""A trained generator as one object and one file: network, fitted preprocessing, schema, config.

:class:`FlashModel` is what ``flashgen train`` writes and ``flashgen generate`` reads. The file is a
``torch.save`` of plain values and tensors only (loaded with ``weights_only=True``, no pickled
code): the network's class name; its sizes and typed settings (``hparams``: ``features``,
``context`` and the fields of the family's :class:`~flashgen.models.config.ModelConfig`, read
back through it, so that files of older versions, which stored the constructor arguments, load
too); its weights; the fitted feature and condition pipelines; the column schema (names, units,
dtypes); the optional detection-efficiency classifier; and how it was trained (config, selected
snapshot, data source, library versions).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..data import Column
from ..errors import FlashgenError
from ..files import atomic_path, check_output_path, plain
from ..transforms import Pipeline
from .interface import GenerativeModel, get_model
from .efficiency import EfficiencyClassifier

__all__ = ["ENSEMBLE_FORMAT", "SUPPORT_MARGIN", "FlashModel", "read_payload", "save_payload", "support_bounds"]

FORMAT = "flashgen-model"
FORMAT_VERSION = 1
ENSEMBLE_FORMAT = "flashgen-ensemble"
SUPPORT_MARGIN = 0.1
"""Margin around a feature's training range ``[lo, hi]`` (``info["support"]``) inside which a
generated value counts as supported: ``SUPPORT_MARGIN * (hi - lo)`` on each side (of
``max(|lo|, 1)`` for a constant column). Training refuses a model that generates many values beyond
it (:mod:`flashgen.training.health`); ``flashgen generate`` counts the events beyond it."""


def support_bounds(support: dict[str, Any] | None, margin: float = SUPPORT_MARGIN) -> dict[str, tuple[float, float]]:
    """``{column: (low, high)}``: the recorded training ranges ``{column: [lo, hi]}`` widened by
    ``margin`` of their width on each side (see :data:`SUPPORT_MARGIN`); empty for ``None``."""
    bounds = {}
    for name, (lo, hi) in (support or {}).items():
        width = float(hi) - float(lo) if hi > lo else max(abs(float(lo)), 1.0)
        bounds[name] = (float(lo) - margin * width, float(hi) + margin * width)
    return bounds


class FlashModel:
    """A trained generative model with everything needed to generate physical events.

    Generation (chunked, seeded, conditional, with efficiency) is :mod:`flashgen.generation`.

    Arguments:
        kind: the registered model family (:data:`flashgen.models.MODELS`).
        network: the trained network (model space).
        features: fitted pipeline of the generated columns.
        conditions: fitted pipeline of the condition columns, or ``None``.
        schema: units and descriptions of every output column.
        dtypes: numpy dtype name of every output column (integers stay integers).
        efficiency: optional p(detected | conditions) classifier.
        efficiency_column: name of the 0/1 column it predicts (e.g. ``"detected"``).
        info: how the model was trained (free, JSON-like).
    """

    def __init__(self, kind: str, network: GenerativeModel, features: Pipeline,
                 conditions: Pipeline | None, schema: dict[str, Column], dtypes: dict[str, str],
                 efficiency: EfficiencyClassifier | None = None, efficiency_column: str | None = None,
                 info: dict[str, Any] | None = None) -> None:
        self.kind, self.network = kind, network
        self.features, self.conditions = features, conditions
        self.schema, self.dtypes = schema, dtypes
        self.efficiency, self.efficiency_column = efficiency, efficiency_column
        self.info = info or {}

    # ----------------------------------------------------------------------------- properties

    @property
    def feature_names(self) -> list[str]:
        """Generated physical columns."""
        return list(self.features.columns)

    @property
    def condition_names(self) -> list[str]:
        """Condition columns a conditions table must provide (empty if unconditional)."""
        return list(self.conditions.columns) if self.conditions is not None else []

    @property
    def output_columns(self) -> list[Column]:
        """Schema of a generated table, in column order."""
        names = self.condition_names + ([self.efficiency_column] if self.efficiency_column else [])
        names += self.feature_names
        return [self.schema.get(n, Column(n)) for n in names]

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @property
    def support(self) -> dict[str, tuple[float, float]]:
        """Where generated features are supported: the training range of each feature
        (``info["support"]``) widened by :data:`SUPPORT_MARGIN`; empty for a model file written
        before flashgen recorded it."""
        return support_bounds(self.info.get("support"))

    def to(self, device: str | torch.device) -> FlashModel:
        """Move the networks to ``device``; returns self."""
        self.network.to(device)
        if self.efficiency is not None:
            self.efficiency.to(device)
        return self

    def n_parameters(self) -> int:
        """Number of weights of the generating network(s)."""
        nets = [self.network] + ([self.efficiency] if self.efficiency is not None else [])
        return sum(p.numel() for net in nets for p in net.parameters())

    # ----------------------------------------------------------------------------- file format

    def payload(self) -> dict[str, Any]:
        """The model as plain values and CPU tensors (what :meth:`save` writes)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "hparams": self.network.hparams,
            "state": {k: v.cpu() for k, v in self.network.state_dict().items()},
            "features": self.features.state(),
            "conditions": self.conditions.state() if self.conditions is not None else None,
            "schema": {n: asdict(c) for n, c in self.schema.items()},
            "dtypes": self.dtypes,
            "efficiency": None if self.efficiency is None else {
                "column": self.efficiency_column, "hparams": self.efficiency.hparams,
                "state": {k: v.cpu() for k, v in self.efficiency.state_dict().items()}},
            "info": plain(self.info),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file atomically; returns its path."""
        return save_payload(self.payload(), path)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], origin: str | os.PathLike[str]) -> FlashModel:
        """The model of a :meth:`payload` (``origin`` names it in errors)."""
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise FlashgenError(f"{origin} is not a flashgen model file")
        if payload["format_version"] > FORMAT_VERSION:
            raise FlashgenError(f"{origin} was written by a newer flashgen (format "
                                f"{payload['format_version']}); upgrade flashgen to read it")
        try:
            network = get_model(payload["kind"]).from_hparams(payload["hparams"])
            network.load_state_dict(payload["state"])
            efficiency = None
            if payload["efficiency"] is not None:
                efficiency = EfficiencyClassifier.from_hparams(payload["efficiency"]["hparams"])
                efficiency.load_state_dict(payload["efficiency"]["state"])
            return cls(
                payload["kind"], network, Pipeline.from_state(payload["features"]),
                Pipeline.from_state(payload["conditions"]) if payload["conditions"] else None,
                {n: Column(**c) for n, c in payload["schema"].items()}, dict(payload["dtypes"]),
                efficiency, payload["efficiency"]["column"] if payload["efficiency"] else None,
                payload["info"])
        except (KeyError, TypeError, RuntimeError, FlashgenError) as err:
            raise FlashgenError(f"{origin} is damaged or inconsistent ({type(err).__name__}: {err})") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device = "cpu") -> FlashModel:
        """Read a model file written by :meth:`save`.

        Raises:
            FlashgenError: missing, truncated or foreign file, a newer format version, or an
                ensemble file (read those with :func:`flashgen.models.load_model`).
        """
        payload = read_payload(path)
        if payload.get("format") == ENSEMBLE_FORMAT:
            raise FlashgenError(f"{path} holds an ensemble of {len(payload.get('members', []))} models; "
                                "this step needs a single model")
        return cls.from_payload(payload, path).to(device)


def save_payload(payload: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` a model payload to ``path`` atomically; returns the path."""
    target = check_output_path(path, suffixes=None)
    with atomic_path(target) as tmp:
        torch.save(payload, tmp)
    return target


def read_payload(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The payload of a model (or ensemble) file, read with ``weights_only=True``.

    Raises:
        FlashgenError: a folder, a missing, truncated or foreign file.
    """
    p = Path(path)
    if p.is_dir():
        raise FlashgenError(f"{p} is a folder, not a model file; give the model file written by 'flashgen train'")
    if not p.is_file():
        raise FlashgenError(f"model file {p} does not exist" if not p.exists() else f"{p} is not a file")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:
        raise FlashgenError(f"{p} is not a readable flashgen model file (truncated or corrupt? "
                            f"{type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") not in (FORMAT, ENSEMBLE_FORMAT):
        raise FlashgenError(f"{p} is not a flashgen model file")
    return payload
