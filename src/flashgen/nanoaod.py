"""NanoAOD-like output: events as a ROOT ``Events`` TTree that a coffea/NanoAOD analysis reads.

A source says how its columns become NanoAOD collections (its profile's ``nanoaod`` mapping,
:class:`~flashgen.sources.registry.Profile`); this module knows no dataset. The caller
passes the profile whose mapping applies (:func:`flashgen.sources.registry.nanoaod_profile`); it adds
the event IDs, stores every floating-point branch as float32 and writes the tree chunk by chunk
(:class:`NanoAODWriter`, atomically: the file appears only when complete).

Branches: ``run`` (uint32, always 1), ``luminosityBlock`` (uint32, always 1) and ``event``
(uint64, 1 .. N in the order written), then each collection of the mapping with NanoAOD names:
a jagged collection ``Muon`` becomes the counter ``nMuon`` (int32) and ``Muon_pt``, ``Muon_eta``,
...; a per-event record ``MET`` becomes ``MET_pt``, ``MET_phi``. The table's metadata (producer,
seed, model) is stored as JSON in a ``TObjString`` named ``flashgen_meta`` beside the tree.

A table of flattened collections (``nMuon``, ``Muon_0_pt``, ..., read with ``--collections``)
is written back by the mapping of its :class:`~flashgen.collections.Collections` spec: jagged
collections again, its per-event columns as branches of their own name and an ensemble's
``member`` as ``flashgen_member``; :func:`rewrite_as_nanoaod` streams a table file into such a
file, recording the spec so that :func:`flashgen.data.read_table` flattens it back by itself.

Example (coffea):
    >>> from coffea.nanoevents import NanoEventsFactory, NanoAODSchema  # doctest: +SKIP
    >>> events = NanoEventsFactory.from_root({"gen.root": "Events"},  # doctest: +SKIP
    ...                                      schemaclass=NanoAODSchema, mode="eager").events()
    >>> mll = (events.Muon[:, 0] + events.Muon[:, 1]).mass  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data import META_KEY, Column, EventTable
from .files import AtomicStream, check_output_path, plain

__all__ = ["LUMINOSITY_BLOCK", "RUN", "TREE", "NanoAODWriter", "branches", "rewrite_as_nanoaod", "write_nanoaod"]

TREE = "Events"
"""Name of the TTree, as in NanoAOD."""
META = "flashgen_meta"
"""Name of the ``TObjString`` holding the table's metadata as JSON."""
RUN = 1
"""``run`` of every event."""
LUMINOSITY_BLOCK = 1
"""``luminosityBlock`` of every event."""


def _float32(values: Any) -> Any:
    """``values`` (numpy or awkward) with every floating-point leaf as float32."""
    if isinstance(values, np.ndarray):
        return values.astype(np.float32) if values.dtype.kind == "f" else values
    import awkward as ak

    def cast(layout: Any, **_: Any) -> Any:
        if layout.is_numpy and layout.dtype.kind == "f":
            return ak.contents.NumpyArray(np.asarray(layout.data, dtype=np.float32),
                                          parameters=layout.parameters)
        return None

    return ak.transform(cast, values)


def branches(columns: Mapping[str, Any], mapping: Any, first_event: int = 1) -> dict[str, Any]:
    """The ``Events`` branches of one chunk: event IDs, then the collections of ``mapping``.

    Arguments:
        columns: column name -> array of shape ``(n_events,)``.
        mapping: a profile's ``nanoaod`` mapping, ``columns -> {collection: array}``.
        first_event: ``event`` number of the first row (events are numbered consecutively).

    Returns:
        ``{"run", "luminosityBlock", "event"}`` arrays of shape ``(n_events,)`` and the
        collections (floats as float32), ready for uproot's ``mktree`` / ``extend``.
    """
    collections = mapping(columns)
    n = len(next(iter(collections.values()))) if collections else 0
    out: dict[str, Any] = {
        "run": np.full(n, RUN, dtype=np.uint32),
        "luminosityBlock": np.full(n, LUMINOSITY_BLOCK, dtype=np.uint32),
        "event": np.arange(first_event, first_event + n, dtype=np.uint64),
    }
    for name, values in collections.items():
        out[name] = _float32(values)
    return out


class NanoAODWriter(AtomicStream):
    """Stream chunks of a source's events into a NanoAOD-like ROOT file, atomically.

    Used like :class:`~flashgen.data.TableWriter` (same arguments, a context manager with
    ``write(chunk)``); the mapping is chosen from the column names on construction, so a table
    that cannot be mapped fails before any work.

    Arguments:
        path: ``.root`` target.
        columns: the table's columns (schema or names).
        meta: free metadata stored as JSON beside the tree.
        profile: the source profile whose ``nanoaod`` mapping to use
            (:func:`flashgen.sources.registry.nanoaod_profile` finds the one that applies).
    """

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[Column | str],
                 meta: Mapping[str, Any] | None = None, *, profile: Any) -> None:
        self.path = check_output_path(path, suffixes=(".root",))
        names = [c.name if isinstance(c, Column) else c for c in columns]
        profile.nanoaod({n: np.zeros(0) for n in names})  # a table it cannot map fails here
        self.profile = profile
        self.names = names
        self.meta = {**dict(meta or {}), "format": "nanoaod", "nanoaod_source": self.profile.name}
        self.n_events = 0
        self._file: Any = None

    def write(self, chunk: Mapping[str, np.ndarray] | EventTable) -> None:
        """Append ``chunk`` (the table's columns, equal lengths); events are numbered on."""
        data = chunk.data if isinstance(chunk, EventTable) else chunk
        out = branches(data, self.profile.nanoaod, first_event=self.n_events + 1)
        if self._file is None:
            import uproot

            self._file = uproot.recreate(self._tmp)
            self._file[META] = json.dumps(plain(self.meta))
            self._file.mktree(TREE, {k: v.dtype if isinstance(v, np.ndarray) else v.type
                                     for k, v in out.items()},
                              counter_name=lambda name: f"n{name}",
                              field_name=lambda outer, inner: f"{outer}_{inner}")
        self._file[TREE].extend(out)
        self.n_events += len(out["event"])

    def _started(self) -> bool:
        return self._file is not None

    def _empty_chunk(self) -> dict[str, np.ndarray]:
        return {n: np.zeros(0) for n in self.names}  # an empty, valid tree

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()


def write_nanoaod(table: EventTable, path: str | os.PathLike[str], *, profile: Any,
                  chunk_size: int = 100_000) -> Path:
    """Write ``table`` to ``path`` (``.root``) as NanoAOD-like ``Events``; returns the path.

    Arguments:
        table: events of a source with a NanoAOD mapping.
        path: target ``.root`` file (written atomically).
        profile: the source profile whose ``nanoaod`` mapping to use.
        chunk_size: rows mapped and written at once (ROOT baskets of that size).
    """
    with NanoAODWriter(path, list(table.columns.values()), table.meta, profile=profile) as writer:
        for start in range(0, len(table), chunk_size):
            writer.write(table.take(slice(start, start + chunk_size)))
    return writer.path


def rewrite_as_nanoaod(table: str | os.PathLike[str], path: str | os.PathLike[str], *, profile: Any,
                       meta: Mapping[str, Any] | None = None) -> Path:
    """Stream the Parquet file ``table`` (as :class:`~flashgen.data.TableWriter` writes it) into
    ``path`` (``.root``) as NanoAOD-like ``Events``, row group by row group (memory stays flat).

    Arguments:
        table: a Parquet table file.
        path: target ``.root`` file (written atomically).
        profile: the NanoAOD mapping (a source profile, or a
            :class:`~flashgen.collections.Collections` spec for flattened collections).
        meta: metadata added to the table's own (e.g. ``{"collections": "Muon:2"}``).

    Returns:
        ``path``.
    """
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(table)
    stored = (pf.schema_arrow.metadata or {}).get(META_KEY.encode())
    own = {k: v for k, v in json.loads(stored).items() if k != "columns"} if stored else {}
    names = pf.schema_arrow.names
    with NanoAODWriter(path, names, {**own, **dict(meta or {})}, profile=profile) as writer:
        for group in range(pf.num_row_groups):
            arrow = pf.read_row_group(group)
            writer.write({n: arrow.column(n).to_numpy() for n in names})
    return writer.path
