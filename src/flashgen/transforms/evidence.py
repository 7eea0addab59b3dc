"""What a column's values say: its shape (order statistics, moments, hard edges, a peak) and
its evidence (integers, a few distinct values, point masses), from which the automatic plan
(:mod:`flashgen.transforms.auto`) and the four-vector recognition
(:mod:`flashgen.transforms.auto_vectors`) choose.

A *hard edge* is read from the outermost events: with ``k`` = 0.5 % of the events (10 to 500),
the ``k`` outermost values span at most :data:`EDGE_RATIO` times the next ``k`` (a density that
stays finite up to a cut; a tail's extreme spacings grow outward, by 4-8x for a Gaussian or an
exponential). A detected edge is placed at the roundest number within six mean spacings of
the outermost value (-2.5 for an acceptance |eta| <= 2.5, 60 for a window starting at 60 GeV):
the expected distance from the sample's extreme to a true edge is one mean spacing. Where the
values reach that number itself the logit's edge moves out by one mean spacing, so every
training value is strictly inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["DISCRETE_MAX", "EDGE_RATIO", "KNOWN_INTERVALS", "LOG_SKEW", "PEAK_KURTOSIS", "SPIKE_FRACTION",
           "Evidence", "Shape", "core", "map_params"]

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
        return replace(shape, peaks={kind: _peak(_mapped(x, kind, map_params(kind, shape)))
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


def core(y: np.ndarray) -> tuple[float, float]:
    """``(median, IQR / 1.349)`` of ``y``: a peak's centre and width (a Gaussian's σ), which the
    tails do not move."""
    q1, med, q3 = np.quantile(y, [0.25, 0.5, 0.75])
    return float(med), float(q3 - q1) / 1.349


def _peak(y: np.ndarray) -> list[float]:
    """``[median, IQR / 1.349, excess kurtosis]`` of ``y``."""
    return [*core(y), _moments(y)[1]]


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


def map_params(kind: str, s: Shape) -> dict[str, Any]:
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

