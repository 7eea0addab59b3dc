"""Four-vectors and ordered objects recognised in a table without a preset, before its columns
are planned one by one.

Collider tables hold objects as momentum components. Column by column, a model has to learn that
an energy is fixed by the momentum (an on-shell particle) and that two objects from a
resonance's decay have a pair mass in a narrow peak: a thin ridge in six momenta that a few
thousand events do not resolve (Z→μμ without a preset: m(μμ) 11 GeV wide where the reference's
is 3 GeV, classifier AUC 0.83 against the hand-written preset's 0.53). The rules, in order;
names only group the columns, their values decide:

1. columns ``<object>px``, ``<object>py``, ``<object>pz`` and ``<object>e`` (or ``E``,
   ``energy``; ``<object>`` e.g. ``mu0_``) whose energy is ``sqrt(p^2 + m^2)`` for one mass
   ``m`` in every event (relative deviation at most :data:`ON_SHELL_TOLERANCE`) -> ``on_shell``:
   the energy is dropped and rebuilt (:class:`~flashgen.transforms.OnShellEnergy`);
2. two on-shell objects of one mass, with transverse momentum in every event, whose pair mass is
   peaked (excess kurtosis above :data:`~flashgen.transforms.evidence.PEAK_KURTOSIS` after a log,
   or after the logit of its window where it has hard edges at both ends) -> ``pair_mass``: the
   first object's pz becomes the pair mass and the sign of the rapidity gap
   (:class:`~flashgen.transforms.DimuonMass`); where both objects' rapidities stop at a hard
   edge (a detector's acceptance), both pz become the pair mass, the sign and the mean rapidity
   within that acceptance (:class:`~flashgen.transforms.DimuonMassInAcceptance`), so no
   generated object lies beyond it;
3. at least two transverse vectors (every object's ``px, py``; pairs ``<name>x, <name>y`` such
   as a missing transverse momentum), no column named like an azimuth, and a uniform azimuth of
   the reference object (Kolmogorov-Smirnov p-value above :data:`UNIFORM_P`) -> ``azimuth``:
   every transverse vector rotated so that the reference (the second object of the pair, else
   the first object) has ``py = 0`` (:class:`~flashgen.transforms.AzimuthalRotation`); a
   uniform azimuth is drawn back; then the pair's transverse momentum replaces its first
   object's (``pair_momentum``, :class:`~flashgen.transforms.PairMomentum`): the resonance's
   pT, a coordinate of its own instead of a small difference of two large momenta;
4. columns that differ only in an index (``jet1_pt``, ``jet2_pt``; ``Jet_0_pt``, ``Jet_1_pt``),
   in descending order in every event and in no four-vector group -> ``ordered``: the objects
   (every column of the same index, e.g. ``Jet_0_eta``) are sorted by them on the way out
   (:class:`~flashgen.transforms.SortObjects`), so the first slot stays the leading object.

The columns these steps make (``<a>_<b>_mass``, ``<a>_<b>_dy_sign``, ``<a>_<b>_y_mid``, the
reference's pT in its ``px``) are then planned like any other column. A column named in the
user's overrides is left out of every group (planned by itself, as the override says).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .evidence import PEAK_KURTOSIS, Shape
from .kinematics import (AzimuthalRotation, DimuonMass, DimuonMassInAcceptance, OnShellEnergy, PairMomentum,
                         SortObjects)
from .pipeline import Transform

__all__ = ["VECTOR_KINDS", "VectorPlan", "plan_vectors"]

VECTOR_KINDS = {
    "on_shell": "an energy fixed by the momentum and one mass: dropped, rebuilt",
    "pair_mass": "a pair of objects with a peaked mass: the pair mass and rapidity in place of pz",
    "azimuth": "transverse vectors rotated to the reference's py = 0; a uniform azimuth drawn back",
    "pair_momentum": "the pair's transverse momentum in place of its first object's",
    "ordered": "objects in slots, in descending order of one column: sorted back into that order",
}
ON_SHELL_TOLERANCE = 1e-5
"""Largest relative deviation of an energy from ``sqrt(p^2 + m^2)`` for an on-shell object
(float32 storage rounds at 6e-8; a detector's energy smearing is 1e-3 or more)."""
UNIFORM_P = 1e-3
"""The reference's azimuth is uniform when a KS test against the uniform law gives a larger p."""
MASS_MATCH = 1e-3
"""Two objects have one mass when their fitted masses differ by less than this (relative, or GeV
below it)."""
_COMPONENT = re.compile(r"^(.*?)(px|py|pz|e|energy|x|y)$", re.IGNORECASE)
_AZIMUTH = re.compile(r"phi", re.IGNORECASE)
_INDEX = re.compile(r"\d+")


@dataclass(frozen=True)
class VectorPlan:
    """One recognised group of columns and the step that treats it.

    Arguments:
        kind: one of :data:`VECTOR_KINDS`.
        columns: the input columns the step reads (GeV).
        why: what in the values chose it, one short phrase.
        params: the step's constructor arguments (plain values).
    """

    kind: str
    columns: tuple[str, ...]
    why: str
    params: Mapping[str, Any] = field(hash=False)
    pt_min: float | None = None
    """A ``pair_mass``'s lower edge of both objects' transverse momenta (GeV), part of its
    acceptance (:meth:`inside`)."""

    def step(self) -> Transform:
        """The preprocessing step of this group."""
        p = dict(self.params)
        if self.kind == "on_shell":
            return OnShellEnergy(**p)
        if self.kind == "pair_mass":
            return DimuonMassInAcceptance(**p) if "y_max" in p else DimuonMass(**p)
        if self.kind == "ordered":
            return SortObjects(**p)
        if self.kind == "pair_momentum":
            return PairMomentum(**p)
        return AzimuthalRotation(**p)

    @property
    def acceptance(self) -> tuple[str, ...]:
        """The columns of the acceptance this group keeps its objects in (a ``pair_mass`` with
        ``y_max``: both objects' momenta), else empty."""
        p = self.params
        cut = "y_max" in p or self.pt_min is not None
        return (*p["mu0"], *p["mu1"]) if self.kind == "pair_mass" and cut else ()

    def inside(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(n_events,)`` bool: both objects within the acceptance, ``|y| < y_max`` and
        ``pT > pt_min`` (every event where this group has no acceptance)."""
        ok = np.ones(len(next(iter(cols.values()))), dtype=bool)
        if not self.acceptance:
            return ok
        p = self.params
        for k in ("mu0", "mu1"):
            o = _Object("", p[k][0], p[k][1], p[k][2], None)
            if "y_max" in p:
                ok &= np.abs(_rapidity(cols, o, p["mass"])) < p["y_max"]
            if self.pt_min is not None:
                ok &= np.hypot(cols[o.px], cols[o.py]) > self.pt_min
        return ok

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": list(self.columns), "why": self.why, "params": dict(self.params),
                "pt_min": self.pt_min}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VectorPlan:
        return cls(d["kind"], tuple(d["columns"]), d["why"], dict(d["params"]), d.get("pt_min"))


@dataclass(frozen=True)
class _Object:
    name: str  # the prefix without a trailing separator, e.g. "mu0"
    px: str
    py: str
    pz: str | None
    e: str | None


def _component(name: str) -> tuple[str, str] | None:
    """``(prefix, component)`` of a column named like a vector's component (``x``, ``y`` and
    ``e`` only after a separator: ``met_x``, not ``nvtx``), else ``None``."""
    m = _COMPONENT.match(name)
    if not m or not m.group(1):
        return None
    prefix, comp = m.group(1), m.group(2).lower()
    if comp in ("x", "y", "e") and not prefix.endswith(("_", ".")):
        return None
    return prefix, comp


def _objects(names: Sequence[str]) -> list[_Object]:
    """Groups of columns named ``<prefix>px/py[/pz][/e]`` or ``<prefix>_x/_y``, in table order."""
    parts: dict[str, dict[str, str]] = {}
    for n in names:
        c = _component(n)
        if c is not None:
            parts.setdefault(c[0], {})[c[1]] = n
    out = []
    for prefix, p in parts.items():
        name = prefix.rstrip("_.") or prefix
        if "px" in p and "py" in p:
            out.append(_Object(name, p["px"], p["py"], p.get("pz"), p.get("e", p.get("energy"))))
        elif "x" in p and "y" in p and "px" not in p and "py" not in p:
            out.append(_Object(name, p["x"], p["y"], None, None))
    return out


def _mass(cols: Mapping[str, np.ndarray], o: _Object) -> float | None:
    """The one mass of an object whose energy is on its mass shell in every event, else ``None``."""
    if o.pz is None or o.e is None:
        return None
    p2 = cols[o.px] ** 2 + cols[o.py] ** 2 + cols[o.pz] ** 2
    e = cols[o.e]
    m = float(np.sqrt(max(float(np.median(e**2 - p2)), 0.0)))
    dev = np.abs(e - np.sqrt(p2 + m**2)) / np.maximum(np.abs(e), 1e-12)
    return m if float(dev.max()) <= ON_SHELL_TOLERANCE else None


def _rapidity(cols: Mapping[str, np.ndarray], o: _Object, mass: float) -> np.ndarray:
    mt = np.sqrt(mass**2 + cols[o.px] ** 2 + cols[o.py] ** 2)
    return np.arcsinh(cols[o.pz] / mt)


def _pair_mass(cols: Mapping[str, np.ndarray], a: _Object, b: _Object) -> np.ndarray:
    e = cols[a.e] + cols[b.e]
    p2 = sum((cols[getattr(a, c)] + cols[getattr(b, c)]) ** 2 for c in ("px", "py", "pz"))
    return np.sqrt(np.maximum(e**2 - p2, 0.0))


def _peak_kurtosis(m: np.ndarray) -> tuple[float, str]:
    """Excess kurtosis of a pair mass after the map a column plan would give it, and that map."""
    s = Shape.of(m)
    kind = "logit" if s.low_edge is not None and s.high_edge is not None else ("log" if s.minimum > 0 else "standard")
    return s.peaks[kind][2], kind


def _acceptance(ys: np.ndarray) -> float | None:
    """The hard edge at which the rapidities' magnitudes ``ys`` stop, placed beyond every value
    (as a logit's: :meth:`Shape.bounds`)."""
    s = Shape.of(ys)
    return s.bounds()[1] if s.high_edge is not None else None


def _lower_edge(values: np.ndarray) -> float | None:
    """The hard lower edge at which ``values`` stop (a selection cut), placed below every value."""
    s = Shape.of(values)
    return s.bounds()[0] if s.low_edge is not None else None


def _uniform_p(cols: Mapping[str, np.ndarray], o: _Object) -> float:
    from scipy.stats import kstest

    phi = np.arctan2(cols[o.py], cols[o.px])
    return float(kstest(phi, "uniform", args=(-np.pi, 2 * np.pi)).pvalue)


def _apply(cols: dict[str, np.ndarray], step: Transform) -> dict[str, np.ndarray]:
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in cols.items()}
    step.fit(t)
    return {k: v.numpy() for k, v in step.forward(t, torch.Generator().manual_seed(0)).items()}


def plan_vectors(columns: Mapping[str, np.ndarray], keep: Sequence[str] = ()
                 ) -> tuple[tuple[VectorPlan, ...], dict[str, np.ndarray]]:
    """Recognise four-vectors among ``columns`` (the module's rules) and apply their steps.

    Arguments:
        columns: column name -> finite values ``(n_events,)`` (GeV for momenta).
        keep: columns left out of every group (the user's overrides).

    Returns:
        The recognised groups, in the order their steps apply, and the columns after those steps
        (the inputs a group replaced removed, the new ones appended), to be planned one by one.
    """
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    objects = [o for o in _objects(list(cols))
               if not {o.px, o.py, o.pz, o.e} & set(keep)]
    plans: list[VectorPlan] = []
    masses: dict[str, float] = {}
    for o in objects:
        m = _mass(cols, o)
        if m is not None:
            masses[o.name] = m
            plans.append(VectorPlan("on_shell", (o.px, o.py, o.pz, o.e), f"E = sqrt(p^2 + m^2), m = {m:.4g} GeV",
                                    {"px": o.px, "py": o.py, "pz": o.pz, "e": o.e, "mass": m,
                                     "tolerance": ON_SHELL_TOLERANCE}))
    pair = _find_pair(cols, [o for o in objects if o.name in masses], masses)
    if pair is not None:
        plans = _leading(cols, pair, objects) + plans + [pair]
    rotation = _rotation(cols, objects, pair)
    if rotation is not None:
        plans.append(rotation)
    if pair is not None:
        plans.append(_pair_momentum(pair, rotation))
    taken = {c for p in plans for c in p.columns} | set(keep)
    plans += _ordered(cols, taken)
    out = cols
    for p in plans:
        out = _apply(out, p.step())
    return tuple(plans), out


def _find_pair(cols: Mapping[str, np.ndarray], objects: list[_Object], masses: Mapping[str, float]
               ) -> VectorPlan | None:
    """The most peaked pair of on-shell objects of one mass, if any is peaked."""
    best: tuple[float, VectorPlan] | None = None
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            ma, mb = masses[a.name], masses[b.name]
            if abs(ma - mb) > MASS_MATCH * max(ma, mb, 1.0):
                continue
            if not (np.hypot(cols[a.px], cols[a.py]).min() > 0 and np.hypot(cols[b.px], cols[b.py]).min() > 0):
                continue
            names = {k: f"{a.name}_{b.name}_{k}" for k in ("mass", "dy_sign", "y_mid")}
            if set(names.values()) & set(cols):
                continue
            kurtosis, kind = _peak_kurtosis(_pair_mass(cols, a, b))
            if not kurtosis > PEAK_KURTOSIS or (best is not None and kurtosis <= best[0]):
                continue
            mass = (ma + mb) / 2
            params: dict[str, Any] = {"mu0": [a.px, a.py, a.pz], "mu1": [b.px, b.py, b.pz], "mass": mass,
                                      "mll": names["mass"], "sign": names["dy_sign"]}
            why = f"m({a.name}, {b.name}) peaked, kurtosis {kurtosis:.0f} after a {kind}"
            y_max = _acceptance(np.abs(np.concatenate([_rapidity(cols, a, mass), _rapidity(cols, b, mass)])))
            if y_max is not None:
                params.update(y_max=y_max, mid=names["y_mid"])
                why += f"; both |y| < {y_max:.4g}"
            pt_min = _lower_edge(np.concatenate([np.hypot(cols[o.px], cols[o.py]) for o in (a, b)]))
            if pt_min is not None:
                why += f", pT > {pt_min:.4g}"
            best = (kurtosis, VectorPlan("pair_mass", (a.pz, b.pz), why, params, pt_min))
    return best[1] if best is not None else None


def _rotation(cols: Mapping[str, np.ndarray], moving: list[_Object], pair: VectorPlan | None
              ) -> VectorPlan | None:
    """The rotation of every transverse vector (``moving``) to the reference's py = 0, where allowed."""
    if len(moving) < 2 or any(_AZIMUTH.search(c) for c in cols):
        return None
    grouped = {c for o in moving for c in (o.px, o.py)}
    loose = [c for c in cols if c not in grouped and (p := _component(c)) is not None
             and p[1] in ("px", "py", "x", "y")]
    if loose:  # a transverse component that is not in a pair would keep its old azimuth
        return None
    if pair is not None:
        ref = next(o for o in moving if o.pz == pair.params["mu1"][2])
    else:
        ref = moving[0]
    p = _uniform_p(cols, ref)
    if not p > UNIFORM_P:
        return None
    vectors = [[o.px, o.py] for o in moving]
    return VectorPlan("azimuth", tuple(c for v in vectors for c in v),
                      f"{ref.name}'s azimuth uniform (KS p = {p:.2g}); {len(vectors)} transverse vectors",
                      {"vectors": vectors, "reference": [ref.px, ref.py]})


def _leading(cols: Mapping[str, np.ndarray], pair: VectorPlan, objects: list[_Object]) -> list[VectorPlan]:
    """The pair's objects kept in their order of pT where the first leads in every event (its
    step's inverse runs last, on the rebuilt objects)."""
    a, b = (next(o for o in objects if o.pz == pair.params[k][2]) for k in ("mu0", "mu1"))
    if not np.all(np.hypot(cols[a.px], cols[a.py]) >= np.hypot(cols[b.px], cols[b.py])):
        return []
    slots = [[o.px, o.py, o.pz, o.e] for o in (a, b)]
    return [VectorPlan("ordered", (a.px, a.py, b.px, b.py), f"pT({a.name}) >= pT({b.name}) in every event",
                       {"slots": slots, "transverse": True})]


def _pair_momentum(pair: VectorPlan, rotation: VectorPlan | None) -> VectorPlan:
    """The pair's transverse momentum in place of its first object's (after the rotation, whose
    reference, the second object, has no py left)."""
    (ax, ay, _), (bx, by, _) = pair.params["mu0"], pair.params["mu1"]
    rotated = rotation is not None and rotation.params["reference"] == [bx, by]
    first, second = ([ax], [bx]) if rotated else ([ax, ay], [bx, by])
    base = pair.params["mll"].removesuffix("_mass")
    names = [f"{base}_px", f"{base}_py"][:len(first)]
    return VectorPlan("pair_momentum", (*first, *second), "the pair's transverse momentum in place of the first object's",
                      {"first": first, "second": second, "pair": names})


def _slot(name: str) -> tuple[str, str, int] | None:
    """``(before, after, index)`` of a name's last number (``Jet_0_pt`` -> ``("Jet_", "_pt", 0)``)."""
    found = list(_INDEX.finditer(name))
    if not found:
        return None
    m = found[-1]
    return name[:m.start()], name[m.end():], int(m.group())


def _ordered(cols: Mapping[str, np.ndarray], taken: set[str]) -> list[VectorPlan]:
    """Objects in slots whose key column is in descending order in every event."""
    slots = {n: s for n in cols if (s := _slot(n)) is not None}
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for n, (before, after, index) in slots.items():
        groups.setdefault((before, after), []).append((index, n))
    out = []
    used: set[str] = set()
    for (before, _), members in groups.items():
        keys = [n for _, n in sorted(members)]
        if len(keys) < 2 or used & set(keys):
            continue
        x = np.stack([cols[k] for k in keys], axis=1)
        steps = np.diff(x, axis=1)
        if not (np.all(steps <= 0) and np.any(steps < 0)):
            continue
        # every column of each slot: the same text before the index and the same index
        objects = [[k] + [n for n, (b, a, i) in slots.items() if b == before and i == slots[k][2] and n != k]
                   for k in keys]
        suffixes = [sorted(slots[n][1] for n in o) for o in objects]
        if any(s != suffixes[0] for s in suffixes) or taken & {c for o in objects for c in o}:
            continue
        used |= {c for o in objects for c in o}
        rest = f" with {len(objects[0]) - 1} more column(s) each" if len(objects[0]) > 1 else ""
        out.append(VectorPlan("ordered", tuple(keys), f"{keys[0]} >= ... >= {keys[-1]} in every event{rest}",
                              {"slots": objects}))
    return out
