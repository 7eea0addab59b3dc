"""Per-column preprocessing chosen from the data, for tables without a preset.

:func:`plan_table` recognises four-vectors (:mod:`flashgen.transforms.auto_vectors`), then
:func:`plan_columns` reads each column's values and picks one *kind* of treatment for it
(:data:`KINDS`), with the numbers it needs; the :class:`Plan` lists them, turns them into
:class:`~flashgen.transforms.Transform` steps (:meth:`Plan.steps`), prints them one line per
column (:meth:`Plan.describe`) and takes a user's corrections (:meth:`Plan.override`).
:class:`AutoPlan` is the step that training uses when no preset gives steps: it plans the
columns it is fitted on (the training events) and stores the plan in the model file.

The rules, in order (values decide; a name helps only to recognise an azimuth):

1. one value in every event -> ``constant``: dropped, restored exactly;
2. integer values -> ``integer``: dequantised into the training range, logit, floored back
   (after training, each integer's generated fraction is matched to the table's:
   :meth:`AutoPlan.calibrate`; so are the discrete values' and the point masses' below);
3. at most :data:`DISCRETE_MAX` distinct values -> ``discrete``: their index, as integers;
4. a value holding more than :data:`SPIKE_FRACTION` of the events (an exact 0) -> a point mass
   (``point_mass+<kind>``): a 0/1 indicator learnt as an integer and the value restored
   exactly; the other events' values are planned by the rules below;
5. an azimuth (named ``*phi*`` and spanning more than half of ``[-π, π]`` or ``[0, 2π]``, or
   spanning all of ``[-π, π]`` with flat ends) -> ``angle``: a point of an annulus;
6. within ``[0, 1]`` or ``[-1, 1]`` (a score, a cosine) and spanning half of it, or with a hard
   edge at both ends (an acceptance, a mass window) -> ``logit`` on that interval;
7. a hard lower edge (by the stricter :data:`LOG_EDGE_RATIO`) and a tail above, or positive and
   skewed (skewness > :data:`LOG_SKEW`) -> ``log`` of the distance to the edge (or of the value);
8. otherwise ``standard`` (standardised only, as every column is at the end).

A narrow peak with long tails (a resonance's mass; excess kurtosis > :data:`PEAK_KURTOSIS` of
the values after the kind's map: logit, log or none) is then compressed around its median
(kind suffix :data:`PEAK`, e.g. ``logit+peak``),
``asinh((y - median) / (IQR / 1.349))`` (:class:`~flashgen.transforms.Peak`): the
standardisation divides by a width that the tails dominate, which would leave the core a small
fraction of a unit wide, finer than a flow's spline bins resolve.

How edges, peaks and point masses are read from the values: :mod:`flashgen.transforms.evidence`.
Bounded columns (``logit``, ``integer``, ``discrete``) are clipped to their training range, so
no generated value lies beyond it; a ``log`` is clipped at its training minimum, a ``standard``
column at the training extreme of a hard edge it has (a lone upper edge, which no log starts
from).
Before the columns, four-vectors are recognised (:mod:`flashgen.transforms.auto_vectors`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..errors import FlashgenError
from ..files import plain
from .columns import Angle, BoundedIntegers, Clip, Constant, DiscreteValues, Log, Logit, Peak, PointMass
from .evidence import (DISCRETE_MAX, KNOWN_INTERVALS, LOG_SKEW, PEAK_KURTOSIS, SPIKE_FRACTION, Evidence, Shape,
                       map_params)
from .auto_vectors import VectorPlan, plan_vectors
from .pipeline import Columns, Transform, need

__all__ = ["KINDS", "PEAK", "POINT_MASS", "SHAPE_KINDS", "AutoPlan", "ColumnPlan", "Evidence", "Plan", "Shape",
           "check_overrides", "plan_columns", "plan_table"]

KINDS = {
    "constant": "one value in every event: dropped and restored exactly",
    "integer": "integer values: dequantised, logit on the training range, floored back",
    "discrete": "a few distinct values: their index, treated as integers",
    "angle": "an azimuth: a point of an annulus (cos, sin), atan2 back",
    "logit": "bounded: logit on the interval, clipped to the training range",
    "log": "a lower edge or positive with a tail above: log of the distance to the edge",
    "standard": "standardised only",
}
"""Every kind of treatment, with what it does. ``logit``, ``log`` and ``standard`` may be
followed by :data:`PEAK` (``logit+peak``), and a kind of a continuous part (:data:`SHAPE_KINDS`)
preceded by :data:`POINT_MASS` (``point_mass+log``)."""
PEAK = "+peak"
"""Suffix of a kind whose values are then compressed around their peak (:class:`Peak`)."""
SHAPE_KINDS = ("angle", "logit", "log", "standard", "logit+peak", "log+peak", "standard+peak")
"""Kinds of a continuous part, the ones that may follow a point mass."""
POINT_MASS = "point_mass+"
PHI = re.compile(r"phi", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Choosing


def _angle_low(name: str, s: Shape) -> float | None:
    """Start of the period when the values are an azimuth, else ``None``."""
    tol = 1e-6
    span = s.maximum - s.minimum
    if -math.pi - tol <= s.minimum and s.maximum <= math.pi + tol:
        if PHI.search(name) and span > math.pi:
            return -math.pi
        flat = s.low_edge is not None and s.high_edge is not None
        if flat and s.minimum < -math.pi + 0.05 and s.maximum > math.pi - 0.05:
            return -math.pi
    if PHI.search(name) and -tol <= s.minimum and s.maximum <= 2 * math.pi + tol and span > math.pi:
        return 0.0
    return None


def _shape_choice(name: str, s: Shape) -> tuple[str, str]:
    """``(kind, why)`` for continuous values of shape ``s``."""
    low = _angle_low(name, s)
    if low is not None:
        named = "named phi, " if PHI.search(name) else ""
        return "angle", f"{named}within [{'-π, π' if low < 0 else '0, 2π'}]"
    for a, b in KNOWN_INTERVALS:
        if a <= s.minimum and s.maximum <= b and s.maximum - s.minimum >= 0.5 * (b - a):
            return "logit", f"within [{a:g}, {b:g}]"
    if s.low_edge is not None and s.high_edge is not None:
        return "logit", f"edges at {s.low_edge:g} and {s.high_edge:g}"
    if s.log_edge is not None:
        return "log", f"edge at {s.log_edge:g}, skew {s.skew:.1f}"
    if s.minimum > 0 and s.skew > LOG_SKEW:
        return "log", f"positive, skew {s.skew:.1f}"
    upper = f", upper edge at {s.high_edge:g}" if s.high_edge is not None else ""
    return "standard", f"skew {s.skew:.1f}{upper}"


def _peaked(kind: str, s: Shape) -> list[float] | None:
    """``[center, scale]`` of the peak compression after ``kind``'s map, or ``None``."""
    center, scale, kurtosis = s.peaks.get(kind, (0.0, 0.0, 0.0))
    return [center, scale] if kurtosis > PEAK_KURTOSIS and scale > 0 else None


def _shape_why(name: str, s: Shape) -> tuple[str, str]:
    kind, why = _shape_choice(name, s)
    if _peaked(kind, s) is not None:
        return kind + PEAK, f"{why}; peaked, kurtosis {s.peaks[kind][2]:.0f}"
    return kind, why


def _choose(name: str, ev: Evidence) -> tuple[str, str]:
    """``(kind, why)`` of a column."""
    if ev.values is not None and len(ev.values) == 1:
        return "constant", f"every event = {ev.values[0]:g}"
    if ev.integer:
        return "integer", f"integers {ev.minimum:g}..{ev.maximum:g}"
    if ev.values is not None:
        return "discrete", f"{len(ev.values)} distinct values"
    if ev.spikes and ev.rest is not None:
        kind, why = _shape_why(name, ev.rest)
        masses = ", ".join(f"{f:.1%} at {v:g}" for v, f in ev.spikes)
        return POINT_MASS + kind, f"{masses}; rest: {why}"
    return _shape_why(name, ev.shape)



def _shape_params(name: str, kind: str, s: Shape) -> dict[str, Any]:
    if kind == "angle":
        low = _angle_low(name, s)
        if low is None:
            if -math.pi - 1e-6 <= s.minimum and s.maximum <= math.pi + 1e-6:
                low = -math.pi
            elif -1e-6 <= s.minimum and s.maximum <= 2 * math.pi + 1e-6:
                low = 0.0
            else:
                raise FlashgenError(f"column '{name}' cannot be an angle: its values "
                                    f"[{s.minimum:g}, {s.maximum:g}] lie outside [-π, π] and [0, 2π]")
        return {"low": low}
    if not kind.endswith(PEAK):
        return map_params(kind, s)
    base = kind[:-len(PEAK)]
    center, scale, _ = s.peaks.get(base, (0.0, 0.0, 0.0))
    if not scale > 0:
        raise FlashgenError(f"column '{name}' has no peak to compress: half of its values are at one value")
    return {**map_params(base, s), "peak": [center, scale]}


def _params(name: str, kind: str, ev: Evidence) -> dict[str, Any]:
    """The numbers of ``kind`` for a column; a clear error where the values do not allow it."""
    if kind == "constant":
        if ev.values is None or len(ev.values) != 1:
            raise FlashgenError(f"column '{name}' cannot be constant: it takes values in "
                                f"[{ev.minimum:g}, {ev.maximum:g}]")
        return {"value": ev.values[0]}
    if kind == "integer":
        if not ev.integer:
            raise FlashgenError(f"column '{name}' cannot be integer: it has non-integer values")
        return {"low": ev.minimum, "high": ev.maximum}
    if kind == "discrete":
        if ev.values is None:
            raise FlashgenError(f"column '{name}' cannot be discrete: it has more than "
                                f"{DISCRETE_MAX} distinct values")
        return {"values": list(ev.values)}
    if kind.startswith(POINT_MASS):
        if not ev.spikes or ev.rest is None:
            raise FlashgenError(f"column '{name}' has no point mass: no value holds more than "
                                f"{SPIKE_FRACTION:.0%} of the events (or every event is at one)")
        spikes = [v for v, _ in ev.spikes]
        return {"spikes": spikes, "indicators": [PointMass(name, v).name for v in spikes],
                **_shape_params(name, kind[len(POINT_MASS):], ev.rest)}
    return _shape_params(name, kind, ev.shape)


def _all_kinds() -> list[str]:
    return [*KINDS, *(k for k in SHAPE_KINDS if k.endswith(PEAK)), *(POINT_MASS + k for k in SHAPE_KINDS)]


def _shape_steps(name: str, kind: str, p: Mapping[str, Any]) -> list[Transform]:
    kind = kind.removesuffix(PEAK)
    steps: list[Transform] = []
    if kind == "angle":
        steps = [Angle(name, p["low"])]
    elif kind == "logit":
        steps = [Clip(name, *p["clip"]), Logit(name, p["low"], p["high"])]
    elif kind == "log":
        steps = [Clip(name, p["clip"], None), Log(name, p["offset"], p["lower"])]
    elif "clip" in p:  # standard with a hard edge
        steps = [Clip(name, *p["clip"])]
    if "peak" in p:
        steps.append(Peak(name, *p["peak"]))
    return steps


# ---------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class ColumnPlan:
    """The treatment of one column.

    Arguments:
        name: column name.
        kind: one of :data:`KINDS` or :data:`SHAPE_KINDS`, or :data:`POINT_MASS` + one of
            :data:`SHAPE_KINDS`.
        why: what in the values chose it (or ``"override"``), one short phrase.
        params: the numbers of the kind (plain values, the column's unit).
        evidence: what the values say (for overrides and for reading the plan later).
    """

    name: str
    kind: str
    why: str
    params: Mapping[str, Any] = field(hash=False)
    evidence: Evidence = field(repr=False)

    def steps(self) -> list[Transform]:
        """The preprocessing steps of this column, in order."""
        name, p = self.name, self.params
        if self.kind == "constant":
            return [Constant(name)]
        if self.kind == "integer":
            return [BoundedIntegers(name, p["low"], p["high"])]
        if self.kind == "discrete":
            return [DiscreteValues(name, p["values"]), BoundedIntegers(name, 0, len(p["values"]) - 1)]
        if self.kind.startswith(POINT_MASS):
            masses: list[Transform] = [PointMass(name, v, ind) for v, ind in zip(p["spikes"], p["indicators"])]
            flags: list[Transform] = [BoundedIntegers(ind, 0, 1) for ind in p["indicators"]]
            return masses + _shape_steps(name, self.kind[len(POINT_MASS):], p) + flags
        return _shape_steps(name, self.kind, p)


@dataclass(frozen=True)
class Plan:
    """The chosen preprocessing of every column (see :func:`plan_table`).

    Arguments:
        columns: one :class:`ColumnPlan` per column, in the table's order (after the
            four-vector steps: their new columns last).
        vectors: the recognised four-vector groups (:mod:`flashgen.transforms.auto_vectors`),
            whose steps come first.
    """

    columns: tuple[ColumnPlan, ...]
    vectors: tuple[VectorPlan, ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnPlan:
        for c in self.columns:
            if c.name == name:
                return c
        raise FlashgenError(f"no column '{name}' in the plan; columns: {', '.join(self.names)}")

    def steps(self) -> list[Transform]:
        """The preprocessing steps of every column (the :class:`~flashgen.transforms.Pipeline`
        standardises what they leave)."""
        return [v.step() for v in self.vectors] + [s for c in self.columns for s in c.steps()]

    def describe(self) -> str:
        """One line per four-vector group, ``columns: kind (why)``, then one per column:
        ``name: kind (why)``, e.g. ``pt: log (positive, skew 3.1)``."""
        return "\n".join([f"{', '.join(v.columns)}: {v.kind} ({v.why})" for v in self.vectors]
                         + [f"{c.name}: {c.kind} ({c.why})" for c in self.columns])

    def override(self, choices: Mapping[str, str]) -> Plan:
        """This plan with the kinds of some columns replaced, e.g. ``{"iso": "standard"}``.

        Raises:
            FlashgenError: an unknown column or kind, or a kind the column's values do not
                allow (e.g. ``integer`` for a column with fractions).
        """
        check_overrides(choices, self.names)
        out = []
        for c in self.columns:
            if c.name in choices and choices[c.name] != c.kind:
                kind = choices[c.name]
                c = replace(c, kind=kind, why="override", params=_params(c.name, kind, c.evidence))
            out.append(c)
        return Plan(tuple(out), self.vectors)

    def as_dict(self) -> dict[str, Any]:
        """The plan as plain values (what a model file stores in ``info["plan"]``)."""
        return plain({"columns": [{"name": c.name, "kind": c.kind, "why": c.why, "params": dict(c.params),
                                   "evidence": asdict(c.evidence)} for c in self.columns],
                      "vectors": [v.as_dict() for v in self.vectors]}, strict=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Inverse of :meth:`as_dict`."""
        return cls(tuple(ColumnPlan(c["name"], c["kind"], c["why"], dict(c["params"]),
                                    Evidence.from_dict(c["evidence"])) for c in d["columns"]),
                   tuple(VectorPlan.from_dict(v) for v in d.get("vectors", ())))


def check_overrides(choices: Mapping[str, str], columns: list[str]) -> None:
    """Refuse overrides of unknown columns or with unknown kinds, before any data is read.

    Raises:
        FlashgenError: one line naming the unknown columns or kinds and the choices.
    """
    unknown = [n for n in choices if n not in columns]
    if unknown:
        raise FlashgenError(f"plan override names unknown column(s) {', '.join(map(repr, unknown))}; "
                            f"columns: {', '.join(columns)}")
    kinds = _all_kinds()
    bad = {n: k for n, k in choices.items() if k not in kinds}
    if bad:
        raise FlashgenError("plan override has unknown kind(s) "
                            + ", ".join(f"{k!r} for '{n}'" for n, k in bad.items())
                            + f"; choose from {', '.join(kinds)}")


def _finite(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``columns`` as float64 arrays; a clear error for an empty column or NaN/inf values."""
    out = {}
    for name, values in columns.items():
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1 or len(x) == 0:
            raise FlashgenError(f"column '{name}' has no values to plan its preprocessing from")
        if not np.isfinite(x).all():
            raise FlashgenError(f"column '{name}' has NaN/inf values; the plan needs finite values")
        out[name] = x
    return out


def plan_columns(columns: Mapping[str, np.ndarray]) -> Plan:
    """Choose the preprocessing of every column from its values, one by one (the module's rules).

    Arguments:
        columns: column name -> finite values of shape ``(n_events,)`` (the training events).

    Returns:
        The :class:`Plan`; ``plan.steps()`` are the steps, ``plan.describe()`` says why.

    Raises:
        FlashgenError: a column that is empty or has NaN/inf values.
    """
    out = []
    for name, x in _finite(columns).items():
        ev = Evidence.of(x)
        kind, why = _choose(name, ev)
        out.append(ColumnPlan(name, kind, why, _params(name, kind, ev), ev))
    return Plan(tuple(out))


def plan_table(columns: Mapping[str, np.ndarray], overrides: Mapping[str, str] | None = None) -> Plan:
    """The plan of a table: its four-vectors recognised first
    (:func:`~flashgen.transforms.auto_vectors.plan_vectors`), then every column left (and every
    column those steps make) planned by :func:`plan_columns`, then the user's ``overrides``
    (column -> kind; an overridden column stays out of every four-vector group).

    Raises:
        FlashgenError: a column that is empty or has NaN/inf values; an override of an unknown
            column or kind, or of a kind the values do not allow.
    """
    chosen = dict(overrides or {})
    check_overrides(chosen, list(columns))
    vectors, rest = plan_vectors(_finite(columns), keep=list(chosen))
    return replace(plan_columns(rest).override(chosen), vectors=vectors)


# ---------------------------------------------------------------------------------------------
# The step that plans at fit time


class AutoPlan(Transform):
    """Plan ``columns`` from the events it is fitted on (:func:`plan_table`, with
    ``overrides``) and apply the plan's steps; what training uses without a preset.

    The plan (``plan``, plain values: :meth:`Plan.from_dict` reads it) and its fitted steps are
    stored with the model.

    Arguments:
        columns: the columns to plan (the features).
        overrides: column -> kind, as :meth:`Plan.override` takes them (unknown columns and
            kinds are refused here; a kind the values do not allow, when fitted).
    """

    kind = "auto_plan"

    def __init__(self, columns: list[str], overrides: Mapping[str, str] | None = None) -> None:
        self.columns = list(columns)
        self.overrides = dict(overrides or {})
        check_overrides(self.overrides, self.columns)
        self.plan: dict[str, Any] | None = None
        self.steps: list[dict[str, Any]] = []

    def _built(self) -> list[Transform]:
        if "_cache" not in self.__dict__:  # rebuilt once after Transform.from_state
            self.__dict__["_cache"] = [Transform.from_state(s) for s in self.steps]
        return self.__dict__["_cache"]

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": self.columns, "overrides": self.overrides,
                "plan": self.plan, "steps": self.steps}

    def planned(self) -> Plan:
        """The fitted plan."""
        if self.plan is None:
            raise FlashgenError("the automatic plan is not fitted yet")
        return Plan.from_dict(self.plan)

    def fit(self, cols: Columns) -> None:
        need(cols, self.columns, "automatic preprocessing")
        plan = plan_table({c: cols[c].detach().cpu().numpy() for c in self.columns}, self.overrides)
        steps = plan.steps()
        through = torch.Generator().manual_seed(0)  # noise only to fit the next steps; never kept
        for step in steps:
            step.fit(cols)
            cols = step.forward(cols, through)
        self.plan = plan.as_dict()
        self.steps = [s.state() for s in steps]
        self.__dict__["_cache"] = steps

    def forward(self, cols: Columns, generator: torch.Generator | None = None) -> Columns:
        for step in self._built():
            cols = step.forward(cols, generator)
        return cols

    def calibrate(self, cols: Columns, generator: torch.Generator | None = None,
                  reference: Columns | None = None) -> None:
        """Match the generated fraction of every integer (integer and discrete columns, point
        masses' indicators) to the training fraction, or to that of ``reference`` (physical
        columns, e.g. every row the model learnt from, training and selection): ``cols`` are a
        trained model's samples on the model side of this step (unstandardised); each
        :class:`~flashgen.transforms.BoundedIntegers` is calibrated
        (:meth:`~flashgen.transforms.BoundedIntegers.calibrate`) on the values that reach it on
        the way back, and the stored steps are updated."""
        built = self._built()
        if reference is not None:
            through = torch.Generator().manual_seed(0)
            for step in built:
                if isinstance(step, BoundedIntegers):
                    step.count(reference[step.column])
                reference = step.forward(reference, through)
        for step in reversed(built):
            if isinstance(step, BoundedIntegers):
                step.calibrate(cols[step.column])
            cols = step.inverse(cols, generator, exact=True)
        self.steps = [s.state() for s in built]

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        for step in reversed(self._built()):
            cols = step.inverse(cols, generator, exact=exact)
        return cols
