"""Event tables: named columns of equal length with units, plus Parquet and ROOT I/O.

An :class:`EventTable` is a mapping ``column name -> array of shape (n_events,)`` together with a
schema (:class:`Column`: unit, description, whether NaN is allowed) and free metadata (producer,
seed, ...). Both are stored inside the file: Parquet key-value metadata under ``"flashgen"``, or a
``TObjString`` named ``flashgen_meta`` beside the ROOT TTree ``Events``.

Writes are atomic: data goes to a hidden temporary file in the target folder that is renamed onto
the target only once complete, so a crash never leaves a half-written table behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .collections import Collections, branches_to_read, flatten, jagged_branches
from .errors import FlashgenError
from .files import TABLE_FORMATS, AtomicStream, check_output_path, plain

__all__ = [
    "Column",
    "EventTable",
    "TableWriter",
    "read_table",
    "split_rows",
    "table_format",
    "write_table",
]

META_KEY = "flashgen"
ROOT_TREE = "Events"
ROOT_META = "flashgen_meta"
SIMULATED_DATASET_MANIFEST = "_flashgen_run.json"
"""Manifest of a sharded simulated reference (:mod:`flashgen.sources.zmumu.production`):
``"shards_expected"``, and ``"complete": true`` once every shard is written."""
GENERATED_DATASET_MANIFEST = "_flashgen_generate.json"
"""Manifest of a sharded generated dataset (:mod:`flashgen.sharded`); ``"complete": true`` once
every shard is written."""
ROW_GROUP_EVENTS = 200_000
"""Events per Parquet row group and ROOT basket written by :class:`TableWriter` (a chunk of
generation is 20,000: 10x fewer, larger row groups read faster and compress better; about
14 MB of Z→μμ columns in float32 held in memory)."""
FORMATS = TABLE_FORMATS


@dataclass(frozen=True)
class Column:
    """Schema of one column.

    Arguments:
        name: column name, e.g. ``"mu0_px"``.
        unit: physical unit, e.g. ``"GeV"``, ``"rad"`` or ``""`` for dimensionless.
        description: one line saying what the column is.
        nullable: whether NaN is a legal value (e.g. kinematics of an undetected electron).
    """

    name: str
    unit: str = ""
    description: str = ""
    nullable: bool = False


@dataclass
class EventTable:
    """Columns of equal length (one entry per event) with a schema and metadata.

    Arguments:
        data: column name -> array of shape ``(n_events,)``.
        columns: schema per column; missing entries get an empty unit.
        meta: free JSON-serialisable metadata (``producer``, ``seed``, ...).
    """

    data: dict[str, np.ndarray]
    columns: dict[str, Column] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = {k: np.asarray(v) for k, v in self.data.items()}
        lengths = {len(v) for v in self.data.values()}
        if len(lengths) > 1:
            raise FlashgenError(f"columns have different lengths: {sorted(lengths)}")
        for name, values in self.data.items():
            if values.ndim != 1:
                raise FlashgenError(f"column '{name}' must be one-dimensional, got shape {values.shape}")
        self.columns = {name: self.columns.get(name, Column(name)) for name in self.data}

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def __getitem__(self, name: str) -> np.ndarray:
        self._require([name])
        return self.data[name]

    def __contains__(self, name: object) -> bool:
        return name in self.data

    @property
    def names(self) -> list[str]:
        """Column names in storage order."""
        return list(self.data)

    def unit(self, name: str) -> str:
        """Unit of column ``name`` (``""`` when dimensionless or unknown)."""
        self._require([name])
        return self.columns[name].unit

    def _require(self, names: Sequence[str]) -> None:
        missing = [n for n in names if n not in self.data]
        if missing:
            where = f" in {self.meta['source']}" if "source" in self.meta else ""
            raise FlashgenError(
                f"unknown column(s) {', '.join(missing)}{where}; available: {', '.join(self.names)}"
            )

    def select(self, names: Sequence[str]) -> EventTable:
        """A table with only ``names``, in that order (shares arrays, copies nothing)."""
        self._require(names)
        return EventTable({n: self.data[n] for n in names}, {n: self.columns[n] for n in names},
                          dict(self.meta))

    def take(self, index: np.ndarray | slice) -> EventTable:
        """Rows ``index`` (a slice, an integer index array or a boolean mask)."""
        return EventTable({n: v[index] for n, v in self.data.items()}, dict(self.columns),
                          dict(self.meta))

    def to_numpy(self, names: Sequence[str], dtype: Any = np.float64) -> np.ndarray:
        """Stack ``names`` into an array of shape ``(n_events, len(names))``."""
        self._require(names)
        out = np.empty((len(self), len(names)), dtype=dtype)
        for j, n in enumerate(names):
            out[:, j] = self.data[n]
        return out

    def check_finite(self, where: str = "", fix: str = "") -> None:
        """Raise if a non-nullable column holds NaN or infinity.

        Arguments:
            where: the file (or what) the table comes from or goes to, for the message.
            fix: what the user can do, appended to the message.
        """
        for name, values in self.data.items():
            if self.columns[name].nullable or not np.issubdtype(values.dtype, np.floating):
                continue
            bad = int(np.count_nonzero(~np.isfinite(values)))
            if bad:
                prefix = f"{where}: " if where else ""
                raise FlashgenError(f"{prefix}column '{name}' has {bad} NaN/inf value(s) where none are "
                                    f"allowed (of {len(values):,} rows)" + (f"; {fix}" if fix else ""))

    @staticmethod
    def concat(tables: Sequence[EventTable]) -> EventTable:
        """Rows of ``tables`` one after the other; schema of the first.

        Metadata entries that all tables share are kept; integer event counts (``events_*``, per
        shard) are summed; other entries that differ (a shard's index or seed) are dropped and
        their keys listed under ``"varies"``, so no table's value stands for the whole.
        """
        if not tables:
            raise FlashgenError("nothing to concatenate")
        names = tables[0].names
        for t in tables[1:]:
            if t.names != names:
                raise FlashgenError(f"tables have different columns: {names} vs {t.names}")
        data = {n: np.concatenate([t.data[n] for t in tables]) for n in names}
        meta: dict[str, Any] = {}
        varies = []
        for key, value in tables[0].meta.items():
            values = [t.meta.get(key) for t in tables]
            if key.startswith("events_") and all(type(v) is int for v in values):
                meta[key] = sum(values)
            elif all(v == value for v in values):
                meta[key] = value
            else:
                varies.append(key)
        if varies:
            meta["varies"] = varies
        return EventTable(data, dict(tables[0].columns), meta)


def split_rows(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n`` rows by a seeded permutation: ``round(fraction * n)`` held out, the rest kept.

    Returns:
        ``(kept, held_out)``: sorted row indices, disjoint, together ``0 .. n-1``.
    """
    perm = rng.permutation(n)
    n_held = int(round(fraction * n))
    return np.sort(perm[n_held:]), np.sort(perm[:n_held])


# ---------------------------------------------------------------------------------------------
# Paths


def table_format(path: str | os.PathLike[str]) -> str:
    """``"parquet"``, ``"root"`` or ``"dataset"`` (a folder of Parquet shards) for ``path``."""
    p = Path(path)
    if p.is_dir():
        return "dataset"
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise FlashgenError(f"{p}: unknown table format '{p.suffix}'; use .parquet or .root")
    return fmt


def _meta_json(columns: Mapping[str, Column], meta: Mapping[str, Any]) -> str:
    from . import __version__

    payload = {"columns": {n: asdict(c) for n, c in columns.items()}, "flashgen_version": __version__}
    payload.update(meta)
    return json.dumps(plain(payload, strict=True))


def _parse_meta(text: str | bytes | None) -> tuple[dict[str, Column], dict[str, Any]]:
    if not text:
        return {}, {}
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return {}, {}
    cols = {n: Column(**c) for n, c in payload.pop("columns", {}).items()}
    return cols, payload


# ---------------------------------------------------------------------------------------------
# Writing


class TableWriter(AtomicStream):
    """Stream chunks of events into one table file, atomically.

    Use as a context manager; the file appears under its final name only when the block ends
    without an exception.

    Arguments:
        path: ``.parquet`` or ``.root`` target.
        columns: schema, in column order.
        meta: free metadata stored with the table.

    Example:
        >>> with TableWriter("out.parquet", [Column("x")], {"seed": 1}) as w:  # doctest: +SKIP
        ...     w.write({"x": np.zeros(10)})
    """

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[Column],
                 meta: Mapping[str, Any] | None = None) -> None:
        self.path = check_output_path(path)
        self.format = FORMATS[self.path.suffix.lower()]
        self.columns = {c.name: c for c in columns}
        self.meta = dict(meta or {})
        if "columns" in self.meta:  # it would replace the stored schema (units, nullable flags)
            raise FlashgenError(f"cannot write {self.path}: metadata key 'columns' is reserved for "
                                "the column schema; store that entry under another name")
        self.n_events = 0
        self._writer: Any = None
        self._file: Any = None
        self._buffer: list[EventTable] = []

    def write(self, chunk: Mapping[str, np.ndarray] | EventTable) -> None:
        """Append ``chunk`` (all schema columns, equal lengths). Chunks are collected into
        Parquet row groups (ROOT baskets) of about :data:`ROW_GROUP_EVENTS` events."""
        data = chunk.data if isinstance(chunk, EventTable) else chunk
        missing = [n for n in self.columns if n not in data]
        if missing:
            raise FlashgenError(f"chunk lacks column(s) {', '.join(missing)}")
        table = EventTable({n: data[n] for n in self.columns}, self.columns)
        table.check_finite(f"cannot write {self.path}",
                           "only columns marked nullable may hold NaN; nothing was written")
        self._buffer.append(table)
        self.n_events += len(table)
        if sum(len(t) for t in self._buffer) >= ROW_GROUP_EVENTS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = self._buffer[0] if len(self._buffer) == 1 else EventTable.concat(self._buffer)
        self._buffer = []
        if self.format == "parquet":
            self._write_parquet(table)
        else:
            self._write_root(table)

    def _finish(self) -> None:
        self._flush()

    def _write_parquet(self, table: EventTable) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.table({n: pa.array(v) for n, v in table.data.items()})
        if self._writer is None:
            schema = arrow.schema.with_metadata({META_KEY: _meta_json(self.columns, self.meta)})
            # Continuous values gain nothing from dictionary encoding; splitting their bytes into
            # streams lets zstd compress them (10^6 generated Z→μμ events: 57 MB in float32,
            # against 87 MB with dictionaries and 149 MB in float64), and writes 2x faster.
            split = [f.name for f in schema if f.type in (pa.float32(), pa.float64(), pa.int32(), pa.int64())]
            self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd",
                                            use_dictionary=False, use_byte_stream_split=split or False)
        self._writer.write_table(arrow.replace_schema_metadata(self._writer.schema.metadata))

    def _write_root(self, table: EventTable) -> None:
        import uproot

        if self._file is None:
            self._file = uproot.recreate(self._tmp)
            self._file[ROOT_META] = _meta_json(self.columns, self.meta)
            self._file.mktree(ROOT_TREE, {n: v.dtype for n, v in table.data.items()})
        self._file[ROOT_TREE].extend(table.data)

    def _started(self) -> bool:
        return self._writer is not None or self._file is not None or bool(self._buffer)

    def _empty_chunk(self) -> dict[str, np.ndarray]:
        return {n: np.zeros(0) for n in self.columns}  # it still defines the schema

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()


def write_table(table: EventTable, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` to ``path`` (``.parquet`` or ``.root``) atomically; return the path."""
    with TableWriter(path, list(table.columns.values()), table.meta) as w:
        w.write(table)
    return w.path


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(path: str | os.PathLike[str], columns: Sequence[str] | None = None, *,
               allow_empty: bool = False, collections: Collections | str | None = None) -> EventTable:
    """Read a Parquet file, a folder of Parquet shards or a ROOT file into an :class:`EventTable`.

    Arguments:
        path: the table; a folder is read as the concatenation of its ``*.parquet`` shards in
            name order (hidden and ``_``-prefixed files are skipped).
        columns: columns to read (all when ``None``); unknown names raise a clear error.
        allow_empty: accept a table with no rows.
        collections: for a NanoAOD-like file with jagged collections (``nMuon``,
            ``Muon_pt[nMuon]``, ...): the objects to keep, e.g. ``"Muon:2,Jet:4"``, flattened
            into columns ``Muon_0_pt``, ... (:mod:`flashgen.collections`; recorded in the
            table's ``meta["collections"]``). A file written by ``flashgen generate --format
            nanoaod`` from such a model records its own and needs none.

    Raises:
        FlashgenError: missing, empty, truncated or corrupt file; unknown columns; NaN/inf in a
            column whose schema does not allow it; jagged collections without ``collections``, or
            ``collections`` the file does not have.
    """
    p = Path(path)
    if not p.exists():
        raise FlashgenError(f"{p} does not exist")
    fmt = table_format(p)
    spec = Collections.parse(collections) if isinstance(collections, str) else collections
    if fmt == "dataset":
        shards = sorted(s for s in p.glob("*.parquet") if not s.name.startswith((".", "_")))
        _refuse_unfinished(p, len(shards))
        if not shards:
            raise FlashgenError(f"{p} is a folder without Parquet shards (*.parquet)")
        table = EventTable.concat([_read_parquet(s, columns, spec) for s in shards])
        table.meta["shards"] = len(shards)
    elif fmt == "parquet":
        table = _read_parquet(p, columns, spec)
    else:
        table = _read_root(p, columns, spec)
    table.meta["source"] = str(p)
    if not allow_empty and len(table) == 0:
        raise FlashgenError(f"{p} holds no events")
    table.check_finite(str(p), "remove or fill those rows (only columns whose flashgen metadata "
                       "marks them nullable may hold NaN)")
    return table


def _refuse_unfinished(folder: Path, shards: int) -> None:
    """A sharded folder (holding ``shards`` shard files) whose manifest does not say complete
    holds only some of its shards.

    Generated datasets (:data:`GENERATED_DATASET_MANIFEST`) say ``"complete": true`` when done;
    a simulated reference (:data:`SIMULATED_DATASET_MANIFEST`) records the shards it will hold
    (``"shards_expected"``) and ``"complete": true`` when done (folders written before it did
    are accepted as they are).
    """
    generated = folder / GENERATED_DATASET_MANIFEST
    if generated.is_file():
        if _manifest(generated).get("complete") is not True:
            raise FlashgenError(f"{folder} is an unfinished generated dataset (its manifest "
                                f"{GENERATED_DATASET_MANIFEST} does not say complete): rerun the same "
                                "'flashgen generate' command to finish it")
    simulated = folder / SIMULATED_DATASET_MANIFEST
    if simulated.is_file():
        content = _manifest(simulated)
        expected = content.get("shards_expected")
        if content.get("complete") is True or not isinstance(expected, int):
            return
        if shards < expected:
            command = content.get("command") or "the same 'flashgen simulate' command"
            raise FlashgenError(f"{folder} is an unfinished simulated reference: {expected - shards:,} of its "
                                f"{expected:,} shards are missing; rerun {command} to finish it")


def _manifest(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _read_parquet(path: Path, columns: Sequence[str] | None, spec: Collections | None = None) -> EventTable:
    import pyarrow.parquet as pq

    _require_bytes(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        schema_meta = pf.schema_arrow.metadata or {}
        cols, meta = _parse_meta(schema_meta.get(META_KEY.encode()))
        branches = jagged_branches(pf.schema_arrow)
        if spec is not None or any(branches.values()):
            return _flattened(path, branches, _spec(path, branches, spec, meta), columns, meta,
                              lambda wanted: _from_arrow(pf.read(columns=wanted)))
        _check_columns(path, names, columns)
        arrow = pf.read(columns=list(columns) if columns is not None else None)
    except FlashgenError:
        raise
    except Exception as err:  # pyarrow raises several types for damaged files
        raise FlashgenError(f"cannot read {path}: not a valid Parquet file, truncated or corrupt "
                            f"({type(err).__name__})") from None
    data = {n: arrow.column(n).to_numpy(zero_copy_only=False) for n in arrow.column_names}
    return EventTable(data, {n: cols[n] for n in data if n in cols}, meta)


def _read_root(path: Path, columns: Sequence[str] | None, spec: Collections | None = None) -> EventTable:
    import uproot

    size = _require_bytes(path)
    try:
        with uproot.open(path) as f:
            if f.file.fEND > size:
                # The header records where the file ends; a cut file can still look readable.
                raise FlashgenError(f"cannot read {path}: truncated ROOT file ({size} of "
                                    f"{f.file.fEND} bytes); was it written completely?")
            if ROOT_TREE not in f:
                raise FlashgenError(f"{path} has no TTree named '{ROOT_TREE}'")
            tree = f[ROOT_TREE]
            meta_text = str(f[ROOT_META]) if ROOT_META in f else None
            branches = jagged_branches(tree)
            if spec is not None or any(branches.values()):
                cols, meta = _parse_meta(meta_text)
                return _flattened(path, branches, _spec(path, branches, spec, meta), columns, meta,
                                  lambda wanted: tree.arrays(wanted, library="ak", how=dict))
            _check_columns(path, list(tree.keys()), columns)
            data = tree.arrays(list(columns) if columns is not None else None, library="np")
    except FlashgenError:
        raise
    except Exception as err:
        raise FlashgenError(f"cannot read {path}: not a valid ROOT file, truncated or corrupt "
                            f"({type(err).__name__})") from None
    cols, meta = _parse_meta(meta_text)
    order = list(columns) if columns is not None else list(data)
    return EventTable({n: data[n] for n in order}, {n: cols[n] for n in order if n in cols}, meta)


def _spec(path: Path, branches: Mapping[str, bool], spec: Collections | None,
          meta: Mapping[str, Any]) -> Collections:
    """The collections to flatten: those asked for, else those a file written by flashgen records."""
    if spec is not None:
        return spec
    if isinstance(meta.get("collections"), str):
        return Collections.parse(meta["collections"])
    jagged = sorted({n.split("_", 1)[0] for n, j in branches.items() if j})
    raise FlashgenError(f"{path} holds jagged collections ({', '.join(jagged)}): choose the objects to keep "
                        f"as columns with --collections, e.g. {','.join(f'{c}:2' for c in jagged[:2])}")


def _flattened(path: Path, branches: Mapping[str, bool], spec: Collections, columns: Sequence[str] | None,
               meta: dict[str, Any], read: Any) -> EventTable:
    """The table of a file with jagged collections: ``read(branch names)`` gives the branches,
    :func:`~flashgen.collections.flatten` the columns."""
    flat = flatten(read(branches_to_read(branches, spec, str(path))), spec, str(path))
    _check_columns(path, list(flat.data), columns)
    order = list(columns) if columns is not None else list(flat.data)
    schema = {n: Column(n, *flat.units.get(n, ("", ""))) for n in order}
    meta = {k: v for k, v in meta.items() if k not in ("format", "nanoaod_source")}
    return EventTable({n: flat.data[n] for n in order}, schema, {**meta, "collections": str(spec)})


def _from_arrow(arrow: Any) -> dict[str, Any]:
    """Columns of a pyarrow table as awkward arrays (lists stay jagged)."""
    import awkward as ak

    return {name: ak.from_arrow(arrow.column(name), highlevel=True) for name in arrow.column_names}


def _require_bytes(path: Path) -> int:
    """Size of ``path`` in bytes; a clear error for an empty (0-byte) file."""
    size = path.stat().st_size
    if size == 0:
        raise FlashgenError(f"{path} is empty (0 bytes); was it written completely?")
    return size


def _check_columns(path: Path, available: Sequence[str], wanted: Sequence[str] | None) -> None:
    if wanted is None:
        return
    missing = [n for n in wanted if n not in available]
    if missing:
        raise FlashgenError(f"unknown column(s) {', '.join(missing)} in {path}; "
                            f"available: {', '.join(available)}")
