"""NanoAOD-like jagged collections as flat columns, and back.

A NanoAOD ``Events`` tree stores a collection ``Muon`` as a counter ``nMuon`` and one jagged
branch per field, ``Muon_pt[nMuon]``, ``Muon_eta[nMuon]``, ... A generative model learns fixed
columns, so a :class:`Collections` spec (``"Muon:2,Jet:4"``) says how many objects of each
collection to keep, and :func:`flatten` turns the branches into columns of shape ``(n_events,)``:

- ``nMuon``: the number of muons in the event (all of them, also beyond the first N), as an
  integer;
- ``Muon_0_pt``, ``Muon_0_eta``, ..., ``Muon_1_pt``, ...: field ``pt`` of object ``i`` (in the
  stored order, i.e. NanoAOD's: decreasing pT), for ``i < N``, object by object;
- per-event branches (``MET_pt``, ``PV_npvs``, ...) as they are.

Objects an event does not have (``i >= nMuon``) are *padded*: NaN cannot be trained on, so the
pad is a value outside the field's range, :data:`ZERO` (0) for the magnitudes ``pt`` and
``mass`` (no object has pT 0, and sums such as HT stay right) and :data:`PAD` (-10) for every
other field (outside |η| < 5, φ in [-π, π], charges ±1, scores in [0, 1]). The count is what
decides: :func:`unflatten` keeps object ``i`` of an event only where ``i < nNAME`` and drops the
rest whatever their values, so a generated pad never becomes an object. Integer fields become
signed integers (booleans ``int8``) so that they can hold the pad.

What is not read: NanoAOD's event IDs (``run``, ``luminosityBlock``, ``event``: bookkeeping, and
``event`` is flashgen's oversampling column), collections not in the spec (their branches and
counters), and objects beyond the first N. Branches named ``flashgen_X`` (written by flashgen
beside the collections, e.g. ``flashgen_member``) are read as column ``X``.

A :class:`Collections` spec is also the NanoAOD mapping that writes such a table back
(:meth:`Collections.nanoaod`, used by :class:`flashgen.nanoaod.NanoAODWriter`): jagged
collections with ``nNAME`` counts, per-event columns as branches of their own name, and the
ensemble column ``member`` as the branch ``flashgen_member``.

Example:
    >>> import awkward as ak, numpy as np
    >>> spec = Collections.parse("Muon:2")
    >>> flat = flatten({"nMuon": np.array([1, 3]), "Muon_pt": ak.Array([[30.0], [50.0, 20.0, 5.0]])}, spec)
    >>> flat.data["Muon_1_pt"].tolist(), flat.data["nMuon"].tolist()
    ([0.0, 20.0], [1, 3])
    >>> unflatten(flat.data, spec)["Muon"].pt.tolist()
    [[30.0], [50.0, 20.0]]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import FlashgenError

__all__ = ["EVENT_IDS", "FIELDS", "PAD", "PREFIX", "ZERO", "ZERO_PADDED", "Collection", "Collections", "Flat",
           "branches_to_read", "flatten", "jagged_branches", "unflatten"]

PAD = -10.0
"""Value of a missing object's fields, except :data:`ZERO_PADDED` ones."""
ZERO = 0.0
"""Value of a missing object's :data:`ZERO_PADDED` fields."""
ZERO_PADDED = ("pt", "mass")
"""Fields padded with :data:`ZERO`: magnitudes that are positive for every real object."""
EVENT_IDS = ("run", "luminosityBlock", "event")
"""NanoAOD's event IDs, not read as columns."""
PREFIX = "flashgen_"
"""Prefix of the branches flashgen writes beside the collections (``flashgen_member``)."""

FIELDS: dict[str, tuple[str, str]] = {
    "pt": ("GeV", "transverse momentum"),
    "eta": ("", "pseudorapidity"),
    "phi": ("rad", "azimuthal angle"),
    "mass": ("GeV", "mass"),
    "charge": ("", "electric charge in units of e"),
    "energy": ("GeV", "energy"),
    "sumEt": ("GeV", "scalar sum of transverse energy"),
    "dxy": ("cm", "transverse impact parameter"),
    "dz": ("cm", "longitudinal impact parameter"),
    "x": ("cm", "x position"),
    "y": ("cm", "y position"),
    "z": ("cm", "z position"),
    "npvs": ("", "number of reconstructed primary vertices"),
    "npvsGood": ("", "number of good reconstructed primary vertices"),
    "pfRelIso03_all": ("", "relative isolation, ΔR < 0.3, all candidates"),
    "pfRelIso04_all": ("", "relative isolation, ΔR < 0.4, all candidates"),
    "btagDeepFlavB": ("", "DeepJet b-tagging score"),
}
"""Unit and meaning of common NanoAOD fields, for the column schema (others: no unit)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_FIELD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Collection:
    """One collection to flatten.

    Arguments:
        name: NanoAOD collection name (``Muon``); letters and digits, no ``_``.
        n: objects kept per event, >= 1.
        fields: the fields to keep (``("pt", "eta")``); ``None``: every field in the file.
    """

    name: str
    n: int
    fields: tuple[str, ...] | None = None

    @property
    def count(self) -> str:
        """Name of the counter column, ``nMuon``."""
        return f"n{self.name}"

    def column(self, index: int, field: str) -> str:
        """Flat column of ``field`` of object ``index``: ``Muon_0_pt``."""
        return f"{self.name}_{index}_{field}"

    def __str__(self) -> str:
        return f"{self.name}:{self.n}" + (f":{'+'.join(self.fields)}" if self.fields else "")


@dataclass(frozen=True)
class Collections:
    """Which collections to flatten and how many objects of each; also the NanoAOD mapping
    (the ``name`` and ``nanoaod`` of a profile) that writes the flat columns back.

    Arguments:
        items: the collections, in column order.
    """

    items: tuple[Collection, ...]
    name: ClassVar[str] = "collections"
    """Name recorded as the ``nanoaod_source`` of a file written with this mapping."""

    @classmethod
    def parse(cls, text: str) -> Collections:
        """``"Muon:2,Jet:4"``: NAME:N items separated by commas; ``NAME:N:f1+f2`` keeps only the
        fields ``f1``, ``f2`` (``"Muon:2:pt+eta+phi"``).

        Raises:
            FlashgenError: a malformed item, N < 1, a name given twice.
        """
        items = [part.strip() for part in str(text).split(",")]
        if not any(items):
            raise FlashgenError("no collection given: write NAME:N[,NAME:N...], e.g. Muon:2,Jet:4")
        found: list[Collection] = []
        for item in items:
            parts = item.split(":")
            if len(parts) not in (2, 3) or not _NAME.fullmatch(parts[0]):
                raise FlashgenError(f"collection '{item}' must look like NAME:N or NAME:N:FIELD+FIELD "
                                    "(e.g. Muon:2 or Muon:2:pt+eta+phi; NAME without '_')")
            name, count = parts[0], parts[1].strip()
            if not count.lstrip("+-").isdigit() or int(count) < 1:
                raise FlashgenError(f"collection '{item}': N must be an integer >= 1 (the objects "
                                    "kept per event), e.g. Muon:2")
            fields = None
            if len(parts) == 3:
                fields = tuple(f.strip() for f in parts[2].split("+"))
                bad = [f for f in fields if not _FIELD.fullmatch(f)]
                if bad or len(set(fields)) != len(fields):
                    raise FlashgenError(f"collection '{item}': fields must be distinct names joined by '+', "
                                        "e.g. Muon:2:pt+eta+phi")
            if any(c.name == name for c in found):
                raise FlashgenError(f"collection {name} is given twice in '{text}'")
            found.append(Collection(name, int(count), fields))
        return cls(tuple(found))

    def __str__(self) -> str:
        return ",".join(str(c) for c in self.items)

    def nanoaod(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        """The NanoAOD branches of flat ``columns`` (:func:`unflatten`), for
        :class:`flashgen.nanoaod.NanoAODWriter`."""
        return unflatten(columns, self)


@dataclass
class Flat:
    """Flat columns made by :func:`flatten`.

    Attributes:
        data: column name -> array of shape ``(n_events,)``.
        units: column name -> ``(unit, description)`` where known.
    """

    data: dict[str, np.ndarray]
    units: dict[str, tuple[str, str]]


# ---------------------------------------------------------------------------------------------
# What a file holds


def jagged_branches(source: Any) -> dict[str, bool]:
    """Branch or column name -> whether it is jagged (one list per event), for an uproot
    ``TTree`` or a pyarrow ``Schema``, in file order (an RNTuple's fields count as not jagged)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pa = None
    if pa is not None and isinstance(source, pa.Schema):
        return {f.name: pa.types.is_list(f.type) or pa.types.is_large_list(f.type)
                or pa.types.is_fixed_size_list(f.type) for f in source}
    import uproot

    # an RNTuple (what uproot writes for ``file[name] = {...}``) has no interpretations: read flat
    return {name: isinstance(getattr(source[name], "interpretation", None), uproot.AsJagged)
            for name in source.keys()}


def _layout(available: Mapping[str, bool], spec: Collections,
            where: str) -> tuple[dict[str, list[str]], dict[str, bool], list[str]]:
    """Per collection of ``spec``: its fields to read and whether its counter exists; and the
    per-event branches to keep. Raises the one-line errors of a spec the file does not fit."""
    prefixes = {name.split("_", 1)[0] for name, jag in available.items() if jag and "_" in name}
    at = f" in {where}" if where else ""
    fields: dict[str, list[str]] = {}
    counted: dict[str, bool] = {}
    for c in spec.items:
        own = [name for name in available if name.startswith(c.name + "_")]
        jagged = [name[len(c.name) + 1:] for name in own if available[name]]
        if not jagged:
            if own:
                raise FlashgenError(f"{c.name} is not a collection{at}: its branches {', '.join(own[:4])}"
                                    f"{', ...' if len(own) > 4 else ''} have one value per event (no "
                                    f"counts {c.count}) and are read as columns as they are; drop {c.name} "
                                    "from --collections")
            known = ", ".join(sorted(prefixes)) or "none (no jagged branches)"
            raise FlashgenError(f"unknown collection {c.name}{at}; collections there: {known}")
        if c.fields is not None:
            missing = [f for f in c.fields if f not in jagged]
            if missing:
                raise FlashgenError(f"unknown field(s) {', '.join(missing)} of collection {c.name}{at}; "
                                    f"its fields: {', '.join(jagged)}")
        fields[c.name] = list(c.fields) if c.fields is not None else jagged
        counted[c.name] = c.count in available and not available[c.count]
    counters = {f"n{p}" for p in prefixes}
    scalars = [name for name, jag in available.items()
               if not jag and name not in counters and name not in EVENT_IDS]
    return fields, counted, scalars


def branches_to_read(available: Mapping[str, bool], spec: Collections, where: str = "") -> list[str]:
    """The branches :func:`flatten` needs of a file with branches ``available`` (name -> jagged,
    :func:`jagged_branches`): the spec's counters and fields, and every per-event branch except
    NanoAOD's event IDs and the counters of other collections.

    Raises:
        FlashgenError: a collection or field the file does not have, a collection without counts.
    """
    fields, counted, scalars = _layout(available, spec, where)
    names: list[str] = []
    for c in spec.items:
        names += [c.count] if counted[c.name] else []
        names += [f"{c.name}_{f}" for f in fields[c.name]]
    return names + scalars


# ---------------------------------------------------------------------------------------------
# Jagged -> flat


def flatten(arrays: Mapping[str, Any], spec: Collections, where: str = "") -> Flat:
    """Flatten the collections of ``spec`` in ``arrays`` (branch name -> numpy array, or
    awkward array for the jagged ones, as uproot and ``ak.from_arrow`` give them).

    Arguments:
        arrays: the branches of one file (at least :func:`branches_to_read`'s).
        spec: collections and objects kept.
        where: the file, for messages.

    Returns:
        :class:`Flat`: per collection ``nNAME`` (the counter, or the list lengths where there
        is no counter) and ``NAME_i_field`` for ``i < N`` (padded, see the module), then the
        per-event branches (``flashgen_X`` as ``X``).

    Raises:
        FlashgenError: a collection or field that is not there, a collection without counts, a
            counter that disagrees with its lists.
    """
    import awkward as ak

    available = {name: _is_jagged(values) for name, values in arrays.items()}
    fields, counted, scalars = _layout(available, spec, where)
    data: dict[str, np.ndarray] = {}
    units: dict[str, tuple[str, str]] = {}
    for c in spec.items:
        lengths = {f: np.asarray(ak.num(arrays[f"{c.name}_{f}"], axis=1), dtype=np.int64) for f in fields[c.name]}
        counts = (np.asarray(arrays[c.count]).astype(np.int64) if counted[c.name]
                  else next(iter(lengths.values())))
        for field, length in lengths.items():
            bad = int(np.count_nonzero(length != counts))
            if bad:
                raise FlashgenError(f"{where + ': ' if where else ''}{c.count} disagrees with the length of "
                                    f"{c.name}_{field} in {bad:,} events; the file is damaged")
        data[c.count] = counts.astype(np.int32)
        units[c.count] = ("", f"number of {c.name} objects in the event (the first {c.n} are "
                              f"{c.column(0, '*')}" + (f" ... {c.column(c.n - 1, '*')}" if c.n > 1 else "") + ")")
        kept = np.arange(c.n) < counts[:, None]
        matrices = {f: _padded(arrays[f"{c.name}_{f}"], c.n, kept, _pad(f)) for f in fields[c.name]}
        for i in range(c.n):
            for field, matrix in matrices.items():
                unit, what = FIELDS.get(field, ("", field))
                data[c.column(i, field)] = np.ascontiguousarray(matrix[:, i])
                units[c.column(i, field)] = (unit, f"{what} of {c.name} {i} (stored order); "
                                                   f"{_pad(field):g} when {c.count} <= {i}")
    for name in scalars:
        column = name[len(PREFIX):] if name.startswith(PREFIX) else name
        values = arrays[name]
        data[column] = values if isinstance(values, np.ndarray) else np.asarray(ak.to_numpy(values))
        field = name.split("_", 1)[1] if "_" in name else ""
        if field in FIELDS and not name.startswith(PREFIX):
            unit, what = FIELDS[field]
            units[column] = (unit, f"{name.split('_', 1)[0]} {what}")
    return Flat(data, units)


def _is_jagged(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        return values.dtype == object
    import awkward as ak

    return ak.Array(values).ndim > 1


def _pad(field: str) -> float:
    return ZERO if field in ZERO_PADDED else PAD


def _signed(dtype: np.dtype) -> np.dtype:
    """A dtype that holds ``dtype``'s values and the pad: floats as they are, booleans as
    ``int8``, unsigned integers as the next wider signed type."""
    if dtype.kind == "b":
        return np.dtype(np.int8)
    if dtype.kind == "u":
        return np.dtype(f"int{min(dtype.itemsize * 16, 64)}")
    return dtype


def _padded(values: Any, n: int, kept: np.ndarray, pad: float) -> np.ndarray:
    """The first ``n`` objects of jagged ``values`` as shape ``(n_events, n)``, ``pad`` where
    ``kept`` (shape ``(n_events, n)``) is false."""
    import awkward as ak

    values = ak.Array(values)
    dtype = _signed(np.dtype(ak.to_numpy(ak.flatten(values[:0], axis=None)).dtype))
    regular = ak.fill_none(ak.pad_none(values, n, axis=1, clip=True), 0)
    matrix = np.asarray(ak.to_numpy(regular)).astype(dtype)
    matrix[~kept] = pad
    return matrix


# ---------------------------------------------------------------------------------------------
# Flat -> jagged


def unflatten(columns: Mapping[str, Any], spec: Collections) -> dict[str, Any]:
    """The jagged collections of flat ``columns`` (the inverse of :func:`flatten` for objects
    ``i < N``), ready for uproot (``counter_name=lambda c: f"n{c}"``,
    ``field_name=lambda c, f: f"{c}_{f}"``).

    Arguments:
        columns: column name -> array of shape ``(n_events,)``: per collection ``nNAME`` and
            ``NAME_i_field`` for ``i < N``; other columns are per-event values.

    Returns:
        ``{collection: awkward array of records}`` with ``min(nNAME, N)`` objects per event
        (rounded and at least 0; objects ``i >= nNAME`` dropped whatever their values), then the
        other columns as they are, ``member`` as ``flashgen_member``.

    Raises:
        FlashgenError: a counter or object column missing.
    """
    import awkward as ak

    used: set[str] = set()
    out: dict[str, Any] = {}
    for c in spec.items:
        fields = c.fields if c.fields is not None else _fields_of(columns, c)
        missing = [c.count] if c.count not in columns else []
        missing += [c.column(i, f) for i in range(c.n) for f in fields if c.column(i, f) not in columns]
        missing += [] if fields else [c.column(0, "*")]
        if missing:
            raise FlashgenError(f"cannot write collection {c.name} back: it needs the columns {c.count} and "
                                f"{c.name}_i_FIELD for i < {c.n}, and the table lacks "
                                f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}")
        raw = np.asarray(columns[c.count], dtype=np.float64)
        counts = np.clip(np.rint(np.nan_to_num(raw, nan=0.0)), 0, c.n).astype(np.int64)
        kept = np.arange(c.n) < counts[:, None]
        jagged = {}
        for f in fields:
            matrix = np.stack([np.asarray(columns[c.column(i, f)]) for i in range(c.n)], axis=1)
            jagged[f] = ak.unflatten(matrix[kept], counts)
        out[c.name] = ak.zip(jagged)
        used |= {c.count} | {c.column(i, f) for f in fields for i in range(c.n)}
    for name, values in columns.items():
        if name not in used:
            out[PREFIX + name if name == "member" else name] = np.asarray(values)
    return out


def _fields_of(columns: Sequence[str] | Mapping[str, Any], c: Collection) -> tuple[str, ...]:
    """The fields of ``c`` among the column names ``NAME_0_field``, in column order."""
    head = f"{c.name}_0_"
    return tuple(name[len(head):] for name in columns if name.startswith(head))
