"""The preprocessing interface: :class:`Transform` steps on dicts of columns, and the fitted
:class:`Pipeline` between physical columns and the standardised model matrix."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..errors import FlashgenError

__all__ = ["Columns", "Pipeline", "Transform", "need"]

Columns = dict[str, Tensor]


def need(cols: Columns, names: list[str], what: str) -> None:
    missing = [n for n in names if n not in cols]
    if missing:
        raise FlashgenError(f"{what} needs column(s) {', '.join(missing)}, which the table lacks")


class Transform(ABC):
    """One invertible preprocessing step on a dict of columns.

    Subclasses set ``kind`` (the name stored in model files) and implement :meth:`forward` and
    :meth:`inverse`; :meth:`fit` sees the columns as they arrive at this step.
    """

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Transform]]] = {}
    orders: ClassVar[bool] = False
    """The exact inverse orders its ``columns`` among themselves (a constant one among them is
    left to it, not restored on its own by the :class:`Pipeline`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Transform.registry[cls.kind] = cls

    def fit(self, cols: Columns) -> None:
        """Learn this step's numbers from the columns (default: nothing to learn)."""

    @abstractmethod
    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        """Physical -> model side. ``generator`` seeds any noise the step adds."""

    @abstractmethod
    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        """Model -> physical side. With ``exact=False`` skip non-differentiable steps (floor,
        thresholds, sorting) so gradients flow; with ``exact=True`` return physical values."""

    def state(self) -> dict[str, Any]:
        """Constructor arguments and fitted numbers as plain Python values."""
        return {"kind": self.kind, **self.__dict__}

    def describe(self) -> str:
        """One line: the kind and the settings of :meth:`state`, e.g. ``log: column=pt, ...``."""
        settings = {k: v for k, v in self.state().items() if k != "kind"}
        return f"{self.kind}: " + ", ".join(f"{k}={v}" for k, v in settings.items())

    @staticmethod
    def from_state(state: dict[str, Any]) -> Transform:
        """Rebuild a step from :meth:`state`."""
        state = dict(state)
        kind = state.pop("kind")
        if kind not in Transform.registry:
            raise FlashgenError(f"unknown preprocessing step '{kind}' in model file")
        obj = Transform.registry[kind].__new__(Transform.registry[kind])
        obj.__dict__.update(state)
        return obj


class Pipeline:
    """Physical columns <-> standardised model matrix, through a sequence of steps.

    Arguments:
        columns: physical column names this pipeline maps (features, or conditions).
        steps: preprocessing steps applied in order (their inverses in reverse order).
        conditions: names of condition columns that steps may read (never output).

    After :meth:`fit`, ``model_columns`` names the columns of the model matrix.
    """

    def __init__(self, columns: list[str], steps: list[Transform] | None = None,
                 conditions: list[str] | None = None) -> None:
        self.columns = list(columns)
        self.steps = list(steps or [])
        self.conditions = list(conditions or [])
        self.model_columns: list[str] = []
        self.mean = torch.zeros(0)
        self.std = torch.ones(0)
        self.constants: dict[str, float] = {}

    def _through(self, cols: Columns, generator: torch.Generator | None, fit: bool) -> Columns:
        for step in self.steps:
            if fit:
                step.fit(cols)
            cols = step.forward(cols, generator)
        return {k: v for k, v in cols.items() if k not in self.conditions}

    def fit(self, cols: Columns, generator: torch.Generator | None = None) -> Tensor:
        """Fit every step and the standardisation; return the model matrix of ``cols``.

        Arguments:
            cols: physical columns (``self.columns`` and ``self.conditions``), float64 tensors of
                shape ``(n_events,)``.
        """
        need(cols, self.columns + self.conditions, "preprocessing")
        # a column with one value in every training row is restored exactly on the way back
        # (whatever the network makes of it, e.g. nvtx = 1 without pileup)
        ordered = {c for step in self.steps if step.orders for c in getattr(step, "columns", ())}
        self.constants = {c: float(cols[c][0]) for c in self.columns
                          if c not in ordered and len(cols[c]) > 1 and bool((cols[c] == cols[c][0]).all())}
        out = self._through({k: cols[k] for k in self.columns + self.conditions}, generator, fit=True)
        self.model_columns = list(out)
        if not self.model_columns:
            return torch.zeros((len(next(iter(cols.values()))), 0))
        z = torch.stack([out[c] for c in self.model_columns], dim=1)
        self.mean = z.mean(dim=0)
        std = z.std(dim=0)
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        return ((z - self.mean) / self.std).float()

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Tensor:
        """Physical columns -> model matrix of shape ``(n_events, len(model_columns))``, float32."""
        need(cols, self.columns + self.conditions, "preprocessing")
        out = self._through({k: cols[k].double() for k in self.columns + self.conditions},
                            generator, fit=False)
        if not self.model_columns:
            return torch.zeros((len(next(iter(cols.values()))), 0))
        z = torch.stack([out[c] for c in self.model_columns], dim=1)
        return ((z - self.mean.to(z)) / self.std.to(z)).float()

    def unstandardise(self, z: Tensor) -> Columns:
        """Model matrix ``(n_events, len(model_columns))`` -> the model-side columns before the
        standardisation (what the last step's inverse reads)."""
        x = z * self.std.to(z) + self.mean.to(z)
        return {c: x[:, j] for j, c in enumerate(self.model_columns)}

    def inverse(self, z: Tensor, conditions: Columns | None = None,
                generator: torch.Generator | None = None, exact: bool = True,
                keep: Sequence[str] = ()) -> Columns:
        """Model matrix ``(n_events, len(model_columns))`` -> physical columns (``self.columns``);
        a column that was constant in the training rows comes back as exactly that constant.

        Arguments:
            z: model-side values.
            conditions: physical condition columns, when steps need them.
            generator: seeds the randomness of inverses (e.g. the azimuth of a rotation).
            exact: ``False`` keeps the map differentiable (skips floors, thresholds, sorting).
            keep: intermediate columns to return too, as they were last seen on the way back
                (e.g. ``"mll"``, a model coordinate that the physical columns only imply).
        """
        cols = self.unstandardise(z)
        if self.conditions:
            if conditions is None:
                raise FlashgenError("this model needs condition columns to generate: "
                                    + ", ".join(self.conditions))
            cols.update({c: conditions[c].to(z) for c in self.conditions})
        kept = {k: cols[k] for k in keep if k in cols}
        for step in reversed(self.steps):
            cols = step.inverse(cols, generator, exact=exact)
            kept.update({k: cols[k] for k in keep if k in cols})
        for c, value in self.constants.items():
            cols[c] = torch.full_like(cols[c], value)
        return {**kept, **{c: cols[c] for c in self.columns}}

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted pipeline (plain values and tensors)."""
        return {"columns": self.columns, "conditions": self.conditions,
                "steps": [s.state() for s in self.steps], "model_columns": self.model_columns,
                "mean": self.mean.double(), "std": self.std.double(), "constants": dict(self.constants)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Pipeline:
        """Inverse of :meth:`state`."""
        p = cls(state["columns"], [Transform.from_state(s) for s in state["steps"]], state["conditions"])
        p.model_columns = list(state["model_columns"])
        p.mean, p.std = state["mean"].double(), state["std"].double()
        p.constants = dict(state.get("constants", {}))  # none in files written before 2026-12-06
        return p
