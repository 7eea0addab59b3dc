"""A trained generator as one object and one file: network, fitted preprocessing, schema, config.

:class:`FlashModel` is what ``flashgen train`` writes and ``flashgen generate`` reads. The file is a
``torch.save`` of plain values and tensors only (loaded with ``weights_only=True``, no pickled
code): the network's class name, hyperparameters and weights; the fitted feature and condition
pipelines; the column schema (names, units, dtypes); the optional detection-efficiency classifier;
and how it was trained (config, selected snapshot, data source, library versions).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import Column, EventTable, atomic_path
from ..errors import FlashgenError
from ..transforms import Pipeline
from .base import GenerativeModel
from .efficiency import EfficiencyClassifier
from .flow import Flow
from .gan import GAN
from .wgan_gp import WGANGP

__all__ = ["MODELS", "FlashModel", "chunk_seed"]

MODELS: dict[str, type[GenerativeModel]] = {"gan": GAN, "wgan-gp": WGANGP, "flow": Flow}
FORMAT = "flashgen-model"
FORMAT_VERSION = 1


def chunk_seed(seed: int, index: int) -> int:
    """Independent 63-bit seed of chunk ``index`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)


def _tensor_columns(table: EventTable, names: list[str], device: torch.device) -> dict[str, torch.Tensor]:
    return {n: torch.tensor(np.asarray(table[n], dtype=np.float64), device=device) for n in names}


def _plain(obj: Any) -> Any:
    """``obj`` as plain JSON values (numpy scalars, paths, version strings become float/str)."""

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        return str(o)

    return json.loads(json.dumps(obj, default=default))


class FlashModel:
    """A trained generative model with everything needed to generate physical events.

    Arguments:
        kind: ``"gan"``, ``"wgan-gp"`` or ``"flow"``.
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

    # ----------------------------------------------------------------------------- generation

    @torch.inference_mode()
    def generate_columns(self, n: int, generator: torch.Generator,
                         conditions: dict[str, torch.Tensor] | None = None) -> dict[str, np.ndarray]:
        """Generate ``n`` events as physical numpy columns (``output_columns`` order).

        Arguments:
            n: number of events; with conditions, their length.
            generator: the randomness of this chunk.
            conditions: physical condition columns of shape ``(n,)``, float64 tensors.
        """
        self.network.eval()
        dev = self.device
        if self.conditions is not None:
            if conditions is None:
                raise FlashgenError("this model is conditional: give a conditions table with columns "
                                    + ", ".join(self.condition_names))
            c = self.conditions.forward(conditions).to(dev)
        else:
            c = torch.zeros((n, 0), device=dev)
        z = self.network.sample(n, c if self.conditions is not None else None, generator)
        cols = self.features.inverse(z.double(), conditions, generator, exact=True)
        out: dict[str, np.ndarray] = {}
        for name in self.condition_names:
            out[name] = conditions[name].cpu().numpy()  # type: ignore[index]
        if self.efficiency is not None and self.efficiency_column is not None:
            p = self.efficiency.probability(c)
            detected = torch.rand(n, generator=generator, device=dev) < p
            out[self.efficiency_column] = detected.cpu().numpy().astype(self.dtypes.get(self.efficiency_column, "int8"))
            keep = detected.cpu().numpy()
            for name in self.feature_names:
                out[name] = np.where(keep, cols[name].cpu().numpy(), np.nan)
        else:
            for name in self.feature_names:
                out[name] = cols[name].cpu().numpy()
        for name, values in out.items():
            dtype = np.dtype(self.dtypes.get(name, "float64"))
            if dtype.kind in "iu" and values.dtype.kind == "f" and np.isnan(values).any():
                continue  # an integer column with undetected (NaN) entries stays float
            out[name] = values.astype(dtype, copy=False)
        return out

    def iter_chunks(self, n: int, *, seed: int = 0, conditions: EventTable | None = None,
                    chunk_size: int = 100_000) -> Iterator[dict[str, np.ndarray]]:
        """Yield generated chunks of at most ``chunk_size`` events; the same ``seed`` and
        ``chunk_size`` give identical events. With ``conditions``, one event per condition row
        (``n`` is then ignored)."""
        if chunk_size < 1:
            raise FlashgenError(f"chunk size must be positive, got {chunk_size}")
        total = len(conditions) if conditions is not None else n
        if conditions is not None:
            conditions.select(self.condition_names)  # fails clearly on missing columns
        elif self.conditions is not None:
            raise FlashgenError("this model is conditional: pass --conditions with columns "
                                + ", ".join(self.condition_names))
        for k, start in enumerate(range(0, total, chunk_size)):
            stop = min(start + chunk_size, total)
            gen = torch.Generator(device=self.device)
            gen.manual_seed(chunk_seed(seed, k))
            cond = None
            if conditions is not None:
                cond = _tensor_columns(conditions.take(slice(start, stop)), self.condition_names, self.device)
            yield self.generate_columns(stop - start, gen, cond)

    def sample(self, n: int, *, seed: int = 0, conditions: EventTable | None = None,
               chunk_size: int = 100_000) -> EventTable:
        """Generate ``n`` events (or one per condition row) into an :class:`EventTable`."""
        chunks = list(self.iter_chunks(n, seed=seed, conditions=conditions, chunk_size=chunk_size))
        cols = self.output_columns
        data = {c.name: np.concatenate([ch[c.name] for ch in chunks]) if chunks else np.zeros(0)
                for c in cols}
        meta = {"producer": f"flashgen generate ({self.kind})", "seed": seed,
                "model": {k: self.info.get(k) for k in ("kind", "preset", "train_events", "source")}}
        return EventTable(data, {c.name: c for c in cols}, meta)

    # ----------------------------------------------------------------------------- file format

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file atomically; returns its path."""
        payload = {
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
            "info": _plain(self.info),
        }
        target = Path(path)
        if target.is_dir():
            raise FlashgenError(f"{target} is a directory; give a model file name such as {target / 'model.pt'}")
        with atomic_path(target) as tmp:
            torch.save(payload, tmp)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device = "cpu") -> FlashModel:
        """Read a model file written by :meth:`save`.

        Raises:
            FlashgenError: missing, truncated or foreign file, or a newer format version.
        """
        p = Path(path)
        if not p.is_file():
            raise FlashgenError(f"model file {p} does not exist" if not p.exists() else f"{p} is not a file")
        try:
            payload = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as err:
            raise FlashgenError(f"{p} is not a readable flashgen model file (truncated or corrupt? "
                                f"{type(err).__name__})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise FlashgenError(f"{p} is not a flashgen model file")
        if payload["format_version"] > FORMAT_VERSION:
            raise FlashgenError(f"{p} was written by a newer flashgen (format {payload['format_version']}); "
                                "upgrade flashgen to read it")
        try:
            network = MODELS[payload["kind"]](**payload["hparams"])
            network.load_state_dict(payload["state"])
            efficiency = None
            if payload["efficiency"] is not None:
                efficiency = EfficiencyClassifier(**payload["efficiency"]["hparams"])
                efficiency.load_state_dict(payload["efficiency"]["state"])
            model = cls(
                payload["kind"], network, Pipeline.from_state(payload["features"]),
                Pipeline.from_state(payload["conditions"]) if payload["conditions"] else None,
                {n: Column(**c) for n, c in payload["schema"].items()}, dict(payload["dtypes"]),
                efficiency, payload["efficiency"]["column"] if payload["efficiency"] else None,
                payload["info"])
        except (KeyError, TypeError, RuntimeError) as err:
            raise FlashgenError(f"{p} is damaged or inconsistent ({type(err).__name__}: {err})") from None
        return model.to(device)
