"""Per-column preprocessing chosen from the data, for tables without a preset.

:func:`plan_columns` reads each column's values and picks one *kind* of treatment for it
(:data:`KINDS`), with the numbers it needs; the :class:`Plan` lists them, turns them into
:class:`~flashgen.transforms.Transform` steps (:meth:`Plan.steps`), prints them one line per
column (:meth:`Plan.describe`) and takes a user's corrections (:meth:`Plan.override`).
:class:`AutoPlan` is the step that training uses when no preset gives steps: it plans the
columns it is fitted on (the training events) and stores the plan in the model file.

The rules, in order (values decide; a name helps only to recognise an azimuth):

1. one value in every event -> ``constant``: dropped, restored exactly;
2. integer values -> ``integer``: dequantised into the training range, logit, floored back;
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

A *hard edge* is read from the outermost events: with ``k`` = 0.5 % of the events (10 to 500),
the ``k`` outermost values span at most :data:`EDGE_RATIO` times the next ``k`` (a density that
stays finite up to a cut; a tail's extreme spacings grow outward, by 4-8x for a Gaussian or an
exponential). A detected edge is placed at the roundest number within six mean spacings of
the outermost value (-2.5 for an acceptance |eta| <= 2.5, 60 for a window starting at 60 GeV):
the expected distance from the sample's extreme to a true edge is one mean spacing. Where the
values reach that number itself the logit's edge moves out by one mean spacing, so every
training value is strictly inside. Bounded columns (``logit``, ``integer``, ``discrete``) are
clipped to their training range, so no generated value lies beyond it; a ``log`` is clipped at
its training minimum, a ``standard`` column at the training extreme of a hard edge it has (a
lone upper edge, which no log starts from).
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
from .pipeline import Columns, Transform, need

__all__ = ["KINDS", "PEAK", "POINT_MASS", "SHAPE_KINDS", "AutoPlan", "ColumnPlan", "Evidence", "Plan", "Shape",
           "check_overrides", "plan_columns"]

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
SPIKE_FRACTION = 0.01
"""A value that holds more than this fraction of a column's events is a point mass."""
MIN_SPIKE_EVENTS = 3
"""Fewest events at one value for a point mass (in a small table every value holds > 1 %)."""
MAX_SPIKES = 3
"""Point masses per column (the largest ones)."""
DISCRETE_MAX = 20
"""Columns with at most this many distinct (non-integer) values are discrete..."""
DISCRETE_REPEATS = 10
"""...when they have at least this many events per distinct value."""
EDGE_RATIO = 3.0
"""A hard edge: the outermost ``k`` values span at most this many times the next ``k``."""
LOG_EDGE_RATIO = 2.0
"""The stricter ratio for a lower edge that a log starts from (a light tail, e.g. a lognormal's
toward 0, reaches 2.4 in a thousand events)."""
EDGE_WINDOW = 6.0
"""A hard edge is placed at the roundest number within this many mean spacings of the outermost
value (the distance from a sample's extreme to a true edge exceeds it with probability e^-6)."""
LOG_SKEW = 1.0
"""Positive columns skewed more than this get a log."""
PEAK_KURTOSIS = 5.0
"""Values (after the kind's map) with an excess kurtosis above this are a peak to compress
(0 for a Gaussian, 2.4 for the log of an exponential, hundreds for a Breit-Wigner)."""
MIN_SHAPE_ROWS = 100
"""Fewest values from which edges are read."""
KNOWN_INTERVALS = ((0.0, 1.0), (-1.0, 1.0))
"""Intervals that bound a column spanning at least half of them (scores, fractions, cosines)."""
PHI = re.compile(r"phi", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# What the values say


@dataclass(frozen=True)
class Shape:
    """The shape of a continuous set of values (a column, or its values off its point masses).

    Arguments:
        n: number of values.
        minimum, maximum, median, iqr: order statistics (the column's unit).
        skew, kurtosis: skewness and excess kurtosis.
        low_edge, high_edge: a hard edge at that end, placed as the module explains, else
            ``None``.
        low_gap, high_gap: mean spacing of the outermost values at each end (> 0).
        low_ratio, high_ratio: span of the outermost ``k`` values over that of the next ``k``
            (about 1 at a hard edge, 4-8 in a tail; ``None`` below :data:`MIN_SHAPE_ROWS`
            values or when the next ``k`` are all equal).
        peaks: kind (``logit``, ``log``, ``standard``) -> ``[median, IQR / 1.349, excess
            kurtosis]`` of the values after that kind's map.
    """

    n: int
    minimum: float
    maximum: float
    median: float
    iqr: float
    skew: float
    kurtosis: float
    low_edge: float | None
    high_edge: float | None
    low_gap: float
    high_gap: float
    low_ratio: float | None = None
    high_ratio: float | None = None
    peaks: Mapping[str, list[float]] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, values: np.ndarray) -> Shape:
        """The shape of ``values`` (finite, at least one)."""
        x = np.sort(np.asarray(values, dtype=np.float64))
        n = len(x)
        lo, hi = float(x[0]), float(x[-1])
        q1, med, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
        skew, kurt = _moments(x)
        floor = max(1e-9 * (hi - lo), 1e-12 * max(abs(lo), abs(hi)), 1e-300)
        low_edge = high_edge = low_ratio = high_ratio = None
        low_gap = high_gap = max(floor, (hi - lo) / max(n, 1))
        if n >= MIN_SHAPE_ROWS:
            k = int(np.clip(n // 200, 10, 500))
            k = min(k, (n - 1) // 2)
            inner_lo, inner_hi = float(x[k] - x[0]), float(x[-1] - x[-1 - k])
            outer_lo, outer_hi = float(x[2 * k] - x[k]), float(x[-1 - k] - x[-1 - 2 * k])
            low_gap, high_gap = max(floor, inner_lo / k), max(floor, inner_hi / k)
            low_ratio, high_ratio = _ratio(inner_lo, outer_lo), _ratio(inner_hi, outer_hi)
            if low_ratio is not None and low_ratio <= EDGE_RATIO:
                low_edge = _round_below(lo, EDGE_WINDOW * low_gap)
            if high_ratio is not None and high_ratio <= EDGE_RATIO:
                high_edge = -_round_below(-hi, EDGE_WINDOW * high_gap)
        shape = cls(n, lo, hi, med, q3 - q1, skew, kurt, low_edge, high_edge, low_gap, high_gap,
                    low_ratio, high_ratio)
        return replace(shape, peaks={kind: _peak(_mapped(x, kind, _map_params(kind, shape)))
                                     for kind in ("logit", "log", "standard")})

    @property
    def log_edge(self) -> float | None:
        """The lower edge a log starts from: a hard edge by :data:`LOG_EDGE_RATIO`, else ``None``."""
        sharp = self.low_ratio is not None and self.low_ratio <= LOG_EDGE_RATIO
        return self.low_edge if sharp else None

    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a logit: the hard edges where the values stay strictly inside
        them, else one mean spacing beyond the outermost values."""
        low = self.low_edge if self.low_edge is not None and self.low_edge < self.minimum \
            else self.minimum - self.low_gap
        high = self.high_edge if self.high_edge is not None and self.high_edge > self.maximum \
            else self.maximum + self.high_gap
        return low, high


def _moments(x: np.ndarray) -> tuple[float, float]:
    """Skewness and excess kurtosis."""
    sd = float(x.std())
    if not sd > 0:
        return 0.0, 0.0
    z = (x - x.mean()) / sd
    return float(np.mean(z**3)), float(np.mean(z**4) - 3)


def _peak(y: np.ndarray) -> list[float]:
    """``[median, IQR / 1.349, excess kurtosis]`` of ``y``."""
    q1, med, q3 = np.quantile(y, [0.25, 0.5, 0.75])
    return [float(med), float(q3 - q1) / 1.349, _moments(y)[1]]


def _mapped(x: np.ndarray, kind: str, p: Mapping[str, Any]) -> np.ndarray:
    """``x`` through the map of ``kind`` (numpy twin of its steps)."""
    if kind == "logit":
        u = (np.clip(x, *p["clip"]) - p["low"]) / (p["high"] - p["low"])
        return np.log(u) - np.log1p(-u)
    if kind == "log":
        return np.log(np.maximum(x, p["clip"]) + p["offset"])
    return x


def _ratio(inner: float, outer: float) -> float | None:
    if outer > 0:
        return inner / outer
    return 1.0 if inner == 0 else None


def _round_below(x: float, width: float) -> float:
    """The roundest number in ``[x - width, x]`` (the largest step of 1, 2, 2.5, 5 x 10^e that
    has a multiple there)."""
    top = math.floor(math.log10(max(abs(x), width))) + 1
    for e in range(top, math.floor(math.log10(width)) - 2, -1):
        for m in (5.0, 2.5, 2.0, 1.0):
            step = m * 10.0**e
            r = math.floor(x / step) * step
            if x - width <= r <= x:
                return r + 0.0  # no -0.0
    return x


@dataclass(frozen=True)
class Evidence:
    """What a column's values say, from which :func:`plan_columns` chooses.

    Arguments:
        n: number of events.
        minimum, maximum: range of the values.
        integer: every value is an integer.
        values: every distinct value when there are at most :data:`DISCRETE_MAX` (and
            :data:`DISCRETE_REPEATS` events per value), else ``None``.
        spikes: ``(value, fraction of events)`` of the values holding more than
            :data:`SPIKE_FRACTION` of them and :data:`MIN_SPIKE_EVENTS` (at most
            :data:`MAX_SPIKES`, largest first).
        shape: the shape of all values.
        rest: the shape of the values off the spikes (``None`` without spikes or values).
    """

    n: int
    minimum: float
    maximum: float
    integer: bool
    values: tuple[float, ...] | None
    spikes: tuple[tuple[float, float], ...]
    shape: Shape
    rest: Shape | None

    @classmethod
    def of(cls, values: np.ndarray) -> Evidence:
        """The evidence of ``values`` (finite)."""
        x = np.asarray(values, dtype=np.float64)
        distinct, counts = np.unique(x, return_counts=True)
        frac = counts / len(x)
        order = np.argsort(-frac, kind="stable")
        spikes = tuple((float(distinct[i]), float(frac[i])) for i in order[:MAX_SPIKES]
                       if frac[i] > SPIKE_FRACTION and counts[i] >= MIN_SPIKE_EVENTS)
        off = x[~np.isin(x, [v for v, _ in spikes])] if spikes else x
        return cls(len(x), float(x.min()), float(x.max()), bool(np.all(x == np.floor(x))),
                   tuple(float(v) for v in distinct)
                   if len(distinct) <= min(DISCRETE_MAX, len(x) / DISCRETE_REPEATS) or len(distinct) == 1 else None,
                   spikes, Shape.of(x), Shape.of(off) if spikes and len(off) else None)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        """Inverse of :func:`dataclasses.asdict` (as stored in a model file)."""
        d = dict(d)
        d["values"] = None if d["values"] is None else tuple(d["values"])
        d["spikes"] = tuple((float(v), float(f)) for v, f in d["spikes"])
        d["shape"] = Shape(**d["shape"])
        d["rest"] = None if d["rest"] is None else Shape(**d["rest"])
        return cls(**d)


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


def _map_params(kind: str, s: Shape) -> dict[str, Any]:
    """The numbers of the map of a ``logit`` or a ``log`` (none for ``standard``)."""
    if kind == "logit":
        low, high = s.bounds()
        for a, b in KNOWN_INTERVALS:
            if a <= s.minimum and s.maximum <= b and s.maximum - s.minimum >= 0.5 * (b - a):
                low = a if a < s.minimum else s.minimum - s.low_gap
                high = b if b > s.maximum else s.maximum + s.high_gap
                break
        return {"low": low, "high": high, "clip": [s.minimum, s.maximum]}
    if kind == "log":
        if s.log_edge is not None:
            edge = s.log_edge if s.log_edge < s.minimum else s.minimum - s.low_gap
        else:
            edge = 0.0 if s.minimum > 0 else s.minimum - s.low_gap
        return {"offset": -edge + 0.0, "lower": edge, "clip": s.minimum}
    if s.low_edge is not None or s.high_edge is not None:  # standard: clipped at a hard edge, as a logit is
        return {"clip": [s.minimum if s.low_edge is not None else None,
                         s.maximum if s.high_edge is not None else None]}
    return {}


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
        return _map_params(kind, s)
    base = kind[:-len(PEAK)]
    center, scale, _ = s.peaks.get(base, (0.0, 0.0, 0.0))
    if not scale > 0:
        raise FlashgenError(f"column '{name}' has no peak to compress: half of its values are at one value")
    return {**_map_params(base, s), "peak": [center, scale]}


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
    """The chosen preprocessing of every column (see :func:`plan_columns`).

    Arguments:
        columns: one :class:`ColumnPlan` per column, in the table's order.
    """

    columns: tuple[ColumnPlan, ...]

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
        return [s for c in self.columns for s in c.steps()]

    def describe(self) -> str:
        """One line per column: ``name: kind (why)``, e.g. ``pt: log (positive, skew 3.1)``."""
        return "\n".join(f"{c.name}: {c.kind} ({c.why})" for c in self.columns)

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
        return Plan(tuple(out))

    def as_dict(self) -> dict[str, Any]:
        """The plan as plain values (what a model file stores in ``info["plan"]``)."""
        return plain({"columns": [{"name": c.name, "kind": c.kind, "why": c.why, "params": dict(c.params),
                                   "evidence": asdict(c.evidence)} for c in self.columns]}, strict=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        """Inverse of :meth:`as_dict`."""
        return cls(tuple(ColumnPlan(c["name"], c["kind"], c["why"], dict(c["params"]),
                                    Evidence.from_dict(c["evidence"])) for c in d["columns"]))


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


def plan_columns(columns: Mapping[str, np.ndarray]) -> Plan:
    """Choose the preprocessing of every column from its values (the module's rules).

    Arguments:
        columns: column name -> finite values of shape ``(n_events,)`` (the training events).

    Returns:
        The :class:`Plan`; ``plan.steps()`` are the steps, ``plan.describe()`` says why.

    Raises:
        FlashgenError: a column that is empty or has NaN/inf values.
    """
    out = []
    for name, values in columns.items():
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1 or len(x) == 0:
            raise FlashgenError(f"column '{name}' has no values to plan its preprocessing from")
        if not np.isfinite(x).all():
            raise FlashgenError(f"column '{name}' has NaN/inf values; the plan needs finite values")
        ev = Evidence.of(x)
        kind, why = _choose(name, ev)
        out.append(ColumnPlan(name, kind, why, _params(name, kind, ev), ev))
    return Plan(tuple(out))


# ---------------------------------------------------------------------------------------------
# The step that plans at fit time


class AutoPlan(Transform):
    """Plan ``columns`` from the events it is fitted on (:func:`plan_columns`, then
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
        plan = plan_columns({c: cols[c].detach().cpu().numpy() for c in self.columns}).override(self.overrides)
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

    def inverse(self, cols: Columns, generator: torch.Generator | None = None,
                exact: bool = True) -> Columns:
        for step in reversed(self._built()):
            cols = step.inverse(cols, generator, exact=exact)
        return cols
