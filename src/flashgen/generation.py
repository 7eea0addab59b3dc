"""Chunked, seeded generation: in memory or streamed to disk.

Everything that turns a trained :class:`~flashgen.models.FlashModel` into events lives here:
:func:`generate_columns` makes one chunk (model-space sample, inverse preprocessing, detection
efficiency), :func:`iter_chunks` seeds and yields the chunks of a run, :func:`sample` collects
them into an :class:`~flashgen.data.EventTable` and :func:`generate` streams them to a Parquet or
ROOT table as soon as they are made, so memory stays flat whatever the number of events, and the
file appears only when complete. The same model, seed and chunk size give identical events.
With a conditions table, one event is generated per condition row and the condition columns are
copied into the output.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .data import Column, EventTable, TableWriter
from .domain import Domain, Outside
from .errors import FlashgenError
from .executor import one_torch_thread
from .files import check_disk, check_output_path
from .models.ensemble import MEMBER_COLUMN, EnsembleModel
from .models.flashmodel import SUPPORT_MARGIN, FlashModel
from .nanoaod import NanoAODWriter
from .sources.registry import PRESETS, Acceptance, nanoaod_profile
from .progress import progress
from .seeds import derive_seed

__all__ = ["COPY_COLUMN", "DEFAULT_CHUNK", "EVENT_COLUMN", "EXTRAPOLATION_LIMIT", "PRECISIONS", "GenerationResult",
           "Oversampled", "Sampling", "as_precision", "check_disk",
           "acceptance", "check_domain", "checked_support", "chunks_between", "count_unsupported", "default_threads",
           "generate", "redrawn_events", "support_warnings", "unsupported_message",
           "generate_columns", "in_threads", "iter_chunks", "make_chunk", "member_split", "metadata", "sample"]

AnyModel = FlashModel | EnsembleModel
"""What generation accepts: one model, or an ensemble (events split over members, column ``member``)."""

J = TypeVar("J")
R = TypeVar("R")

EXTRAPOLATION_LIMIT = 0.01
"""Largest fraction of condition rows outside the training domain generated without
``allow_extrapolation`` (the rest is reported as a warning)."""
PRECISIONS = ("float32", "float64")
"""Storage precisions of generated floating-point columns; float32 by default (7 significant
digits, more than any detector resolution, at half the bytes)."""

DEFAULT_CHUNK = 20_000
"""Events generated and written at once. Measured on 2 CPU cores (Z→μμ flow, 10⁶ events):
18 s with chunks of 20,000 against 46 s with 200,000, at half the memory (cache-sized
intermediate tensors); on a GPU larger chunks (10⁵-10⁶) are faster."""


@torch.inference_mode()
def generate_columns(model: FlashModel, n: int, generator: torch.Generator,
                     conditions: dict[str, torch.Tensor] | None = None) -> dict[str, np.ndarray]:
    """Generate ``n`` events as physical numpy columns (``model.output_columns`` order).

    Arguments:
        model: the trained model.
        n: number of events; with conditions, their length.
        generator: the randomness of this chunk.
        conditions: physical condition columns of shape ``(n,)``, float64 tensors.

    Returns:
        ``column name -> array (n,)``: the conditions, the 0/1 efficiency column when the model
        has one (features are NaN where it is 0), and the features, in the model's dtypes.
    """
    model.network.eval()
    dev = model.device
    if model.conditions is not None:
        if conditions is None:
            raise FlashgenError("this model is conditional: give a conditions table with columns "
                                + ", ".join(model.condition_names))
        c = model.conditions.forward(conditions).to(dev)
    else:
        c = torch.zeros((n, 0), device=dev)
    cols, redrawn = _draw_within_support(model, n, c, conditions, generator)
    out: dict[str, np.ndarray] = {}
    for name in model.condition_names:
        out[name] = conditions[name].cpu().numpy()  # type: ignore[index]
    keep = np.ones(n, dtype=bool)
    if model.efficiency is not None and model.efficiency_column is not None:
        p = model.efficiency.probability(c)
        keep = (torch.rand(n, generator=generator, device=dev) < p).cpu().numpy()
        out[model.efficiency_column] = keep.astype(model.dtypes.get(model.efficiency_column, "int8"))
    for name in model.feature_names:
        values = cols[name].cpu().numpy()
        bad = int(np.count_nonzero(~np.isfinite(values[keep])))
        if bad:  # never a file of NaN with exit 0
            raise FlashgenError(f"the model generated {bad:,} non-finite value(s) of '{name}' in {n:,} "
                                "events: it is broken (diverged or trained on non-finite data); "
                                "retrain it and check its training loss")
        out[name] = values if keep.all() else np.where(keep, values, np.nan)
    for name, values in out.items():
        dtype = np.dtype(model.dtypes.get(name, "float64"))
        if dtype.kind in "iu" and values.dtype.kind == "f" and np.isnan(values).any():
            continue  # an integer column with undetected (NaN) entries stays float
        out[name] = values.astype(dtype, copy=False)
    out[REDRAWN] = np.array([redrawn])  # last: a chunk's first column has its length
    return out


REDRAWN = "_redrawn"
"""Key of a generated chunk holding, as a 1-element array per part (ensemble members
concatenate), the events redrawn because they fell beyond the model's support
(:func:`redrawn_events`); table writers ignore it (it is no schema column)."""

MAX_REDRAWS = 20
"""Rounds of redrawing events beyond the model's support before generation gives up."""

SPARE_FRACTION = 0.02
"""Extra events an unconditional model draws with each chunk to replace refused ones."""


def _draw_within_support(model: FlashModel, n: int, c: torch.Tensor,
                         conditions: dict[str, torch.Tensor] | None,
                         generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int]:
    """``n`` events in physical columns, every feature inside the model's support (its training
    range widened by :data:`~flashgen.models.flashmodel.SUPPORT_MARGIN`, for a model of the whole
    event: a conditional one follows its conditions and :func:`generate` counts) and inside its
    preset's :func:`acceptance` (e.g. no muon beyond the detector). Events outside are redrawn,
    which truncates the model's density to that region: an unconditional model draws
    :data:`SPARE_FRACTION` more events at once and fills the refused rows from the spares (one
    network pass per chunk); a row with conditions is redrawn with its own condition, several
    candidates at a time. Returns the columns and how many of the first ``n`` events were outside.
    A model still outside after :data:`MAX_REDRAWS` rounds is broken (an error, not a file)."""
    bounds = redrawn_range(model)
    accept = acceptance(model)

    def draw(k: int, rows: torch.Tensor | None) -> dict[str, torch.Tensor]:
        cc = c if rows is None else c[rows]
        cond = conditions if rows is None or conditions is None else {k_: v[rows] for k_, v in conditions.items()}
        z = model.network.sample(k, cc if model.conditions is not None else None, generator)
        return model.features.inverse(z.double(), cond, generator, exact=True)

    names = list(bounds)
    low = torch.tensor([bounds[k][0] for k in names], dtype=torch.float64, device=c.device)
    high = torch.tensor([bounds[k][1] for k in names], dtype=torch.float64, device=c.device)

    def outside(part: dict[str, torch.Tensor]) -> torch.Tensor:
        m = len(next(iter(part.values())))
        out = torch.zeros(m, dtype=torch.bool, device=c.device)
        if names:
            x = torch.stack([part[k] for k in names], dim=1)
            out |= ((x < low) | (x > high)).any(dim=1)
        if accept is not None:
            inside = accept.inside({k: part[k].cpu().numpy() for k in accept.columns})
            out |= torch.from_numpy(~np.asarray(inside, dtype=bool)).to(out.device)
        return out

    if not bounds and accept is None:
        return draw(n, None), 0
    conditional = model.conditions is not None
    spare = 0 if conditional else int(math.ceil(SPARE_FRACTION * n)) + 16
    cols = draw(n + spare, None)
    bad = outside(cols)
    rows = torch.nonzero(bad[:n]).flatten()
    redrawn = int(rows.numel())
    if redrawn:
        cols = {k: v.clone() for k, v in cols.items()}
    if spare:
        good_spares = torch.nonzero(~bad[n:]).flatten() + n
        use = min(int(rows.numel()), int(good_spares.numel()))
        for k in cols:
            cols[k][rows[:use]] = cols[k][good_spares[:use]]
        rows = rows[use:]
        cols = {k: v[:n] for k, v in cols.items()}
    for _ in range(MAX_REDRAWS):
        if rows.numel() == 0:
            return cols, redrawn
        reps = max(2, -(-64 // int(rows.numel())))  # candidates per row, at least ~64 in all
        candidates = rows.repeat(reps)  # row i's candidates at i, i + k, i + 2k, ...
        fresh = draw(int(candidates.numel()), candidates if conditional else None)
        ok = ~outside(fresh).view(reps, -1)
        found = ok.any(dim=0)
        pick = ok.to(torch.int8).argmax(dim=0) * rows.numel() + torch.arange(rows.numel())
        for k in cols:
            cols[k][rows[found]] = fresh[k][pick[found]]
        rows = rows[~found]
    if rows.numel() == 0:
        return cols, redrawn
    raise FlashgenError(f"{int(rows.numel()):,} of {n:,} events still lie beyond the model's training range "
                        f"(+{SUPPORT_MARGIN:.0%} margin) or its source's acceptance after {MAX_REDRAWS} redraws: "
                        "the model is broken; retrain it (more --steps, another --seed)")


def acceptance(model: FlashModel) -> Acceptance | None:
    """The acceptance of the model's preset (:class:`~flashgen.sources.registry.Acceptance`),
    else the one its automatic plan recognised (a pair of objects within a rapidity edge,
    :class:`~flashgen.transforms.auto_vectors.VectorPlan`), when the model generates every
    column it reads; ``None`` otherwise."""
    preset = PRESETS.get(model.info.get("preset") or "")
    accept = preset.acceptance if preset is not None else _plan_acceptance(model.info.get("plan"))
    if accept is None or not set(accept.columns) <= set(model.feature_names):
        return None
    return accept


def _plan_acceptance(plan: dict[str, Any] | None) -> Acceptance | None:
    from .transforms.auto_vectors import VectorPlan

    cuts = [v for v in (VectorPlan.from_dict(d) for d in (plan or {}).get("vectors", ())) if v.acceptance]
    if not cuts:
        return None
    words = "; ".join(f"{', '.join(v.columns)}: " + ", ".join(
        ([f"|y| < {v.params['y_max']:.4g}"] if "y_max" in v.params else [])
        + ([f"pT > {v.pt_min:.4g} GeV"] if v.pt_min is not None else [])) for v in cuts)

    def inside(cols: Any) -> np.ndarray:
        return np.logical_and.reduce([v.inside(cols) for v in cuts])

    return Acceptance(words, tuple(c for v in cuts for c in v.acceptance), inside)


def redrawn_range(model: FlashModel) -> dict[str, tuple[float, float]]:
    """The training range (+ margin) outside which ``model``'s events are redrawn: a model of
    the whole event's; none for a conditional one (its conditions may lead there: counted)."""
    if model.conditions is not None:
        return {}
    return {name: lim for name, lim in model.support.items() if name in model.feature_names}


def checked_support(model: AnyModel) -> tuple[bool, dict[str, tuple[float, float]]]:
    """What generation checks for ``model``: whether any event can be redrawn (beyond the
    training range of a model of the whole event, or outside its preset's :func:`acceptance`),
    and the training range whose excess is counted instead (a conditional model's, whose
    conditions may lead there; else empty)."""
    members = model.members if isinstance(model, EnsembleModel) else [model]
    conditional = bool(model.condition_names)
    checked = any(redrawn_range(m) or acceptance(m) is not None for m in members)
    return checked, (model.support if conditional else {})


def redrawn_events(chunk: dict[str, np.ndarray]) -> int:
    """How many events of a generated chunk were redrawn because they fell beyond the model's
    support (0 for a chunk without the record)."""
    return int(np.sum(chunk.get(REDRAWN, 0)))


EVENT_COLUMN = Column("event", "", "index of the condition row (generator-level event) this row was generated from")
COPY_COLUMN = Column("copy", "", "which of the oversampled copies of its condition row (0 .. K-1)")


@dataclass(frozen=True)
class Oversampled:
    """A conditions table whose rows are each used ``copies`` times in a row (oversampling):
    generated row ``i`` comes from condition row ``i // copies`` as copy ``i % copies``.

    The copies are made chunk by chunk, never stored; every copy draws its own randomness,
    including its own accept/reject decision of the efficiency (a flash simulation that drew
    the efficiency once per condition row would give every copy one decision).
    """

    table: EventTable
    copies: int

    def __post_init__(self) -> None:
        if not isinstance(self.copies, int) or self.copies < 1:
            raise FlashgenError(f"the number of copies must be a positive integer, got {self.copies!r}")

    def __len__(self) -> int:
        return len(self.table) * self.copies

    def __getitem__(self, name: str) -> np.ndarray:
        return self.table[name]

    def select(self, names: Sequence[str]) -> EventTable:
        return self.table.select(names)

    def take(self, rows: slice) -> EventTable:
        """The condition rows of generated rows ``rows`` (a slice with a start and a stop)."""
        return self.table.take(np.arange(rows.start, rows.stop) // self.copies)

    def labels(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """``event`` (int64) and ``copy`` (int16) of generated rows ``[start, stop)``."""
        i = np.arange(start, stop, dtype=np.int64)
        return {EVENT_COLUMN.name: i // self.copies, COPY_COLUMN.name: (i % self.copies).astype(np.int16)}


Conditions = EventTable | Oversampled
"""A conditions table, or one with its rows oversampled."""


def output_columns(model: AnyModel, conditions: Conditions | None = None) -> list[Column]:
    """Schema of a generated table: the model's columns, plus ``event`` and ``copy`` when the
    conditions are :class:`Oversampled`."""
    extra = [EVENT_COLUMN, COPY_COLUMN] if isinstance(conditions, Oversampled) else []
    return model.output_columns + extra


def _condition_tensors(table: EventTable, names: list[str], device: torch.device) -> dict[str, torch.Tensor]:
    return {n: torch.tensor(np.asarray(table[n], dtype=np.float64), device=device) for n in names}


def check_domain(model: AnyModel, conditions: Conditions, *, allow_extrapolation: bool = False,
                 warn: Callable[[str], None] | None = None) -> Outside | None:
    """Count the condition rows outside the model's training domain (:class:`~flashgen.domain.Domain`).

    More than :data:`EXTRAPOLATION_LIMIT` of the rows outside is an error unless
    ``allow_extrapolation``; any row outside is reported through ``warn``.

    Returns:
        The count, or ``None`` for a model without a recorded domain.
    """
    state = model.info.get("domain")
    if not state:
        return None
    domain = Domain.from_state(state)
    out = domain.outside({c: np.asarray(conditions[c], dtype=np.float64) for c in domain.names})
    if out.total:
        message = (f"{out.total:,} of {out.rows:,} condition rows ({out.fraction:.2%}) lie outside "
                   f"the model's training domain: {out.out_of_range:,} outside the training ranges, "
                   f"{out.out_of_support:,} where no training row was (most: {out.worst})")
        if out.fraction > EXTRAPOLATION_LIMIT and not allow_extrapolation:
            raise FlashgenError(f"{message}; the model would extrapolate there: use conditions "
                                "inside its training domain, or pass --allow-extrapolation")
        if warn is not None:
            warn(message + ("; generated anyway (--allow-extrapolation)" if allow_extrapolation else ""))
    return out


def count_unsupported(chunk: dict[str, np.ndarray], bounds: dict[str, tuple[float, float]]) -> int:
    """Events of ``chunk`` with any feature beyond its supported range ``bounds`` (the model's
    :attr:`~flashgen.models.FlashModel.support`: the training range widened by
    :data:`~flashgen.models.flashmodel.SUPPORT_MARGIN`); NaN (undetected) entries are not counted."""
    beyond = None
    for name, (lo, hi) in bounds.items():
        values = chunk.get(name)
        if values is None:
            continue
        out = (values < lo) | (values > hi)
        beyond = out if beyond is None else beyond | out
    return 0 if beyond is None else int(np.count_nonzero(beyond))


def support_warnings(redrawn: int | None, unsupported: int | None, total: int) -> list[str]:
    """The warnings of a run of ``total`` events with ``redrawn`` events redrawn and
    ``unsupported`` counted beyond the training range (:func:`unsupported_message`; none for 0)."""
    return ([unsupported_message(redrawn, total)] if redrawn else []) + \
        ([unsupported_message(unsupported, total, redrawn=False)] if unsupported else [])


def unsupported_message(count: int, total: int, redrawn: bool = True) -> str:
    """The warning about generated events beyond the model's training range (``redrawn``: or
    outside its source's acceptance, and redrawn; else counted)."""
    if not redrawn:
        return (f"{count:,} of {total:,} generated events ({count / max(total, 1):.2%}) have a feature beyond "
                f"the model's training range (+{SUPPORT_MARGIN * 100:g} % margin): the model extrapolates there; "
                "check its training (more --steps, another --seed) and the conditions")
    return (f"{count:,} of {total:,} generated events ({count / max(total, 1):.2%}) had a feature beyond "
            f"the model's training range (+{SUPPORT_MARGIN * 100:g} % margin) or lay outside its source's acceptance, "
            "and were redrawn: the model extrapolates there; check its training (more --steps, another --seed)")


def default_threads(model: AnyModel) -> int:
    """Chunks made at once: one per CPU thread torch would use (1 on a GPU)."""
    return 1 if model.device.type != "cpu" else max(1, torch.get_num_threads())


def iter_chunks(model: AnyModel, n: int, *, seed: int = 0, conditions: Conditions | None = None,
                chunk_size: int = DEFAULT_CHUNK, allow_extrapolation: bool = False,
                warn: Callable[[str], None] | None = None,
                threads: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Yield generated chunks of at most ``chunk_size`` events, in order.

    Chunk ``k`` draws its randomness from ``derive_seed(seed, k)``, so the same ``seed`` and
    ``chunk_size`` give identical events, whatever ``threads``. With ``conditions``, one event
    per condition row (``n`` is then ignored; :class:`Oversampled` conditions: ``copies`` per
    row, with ``event`` and ``copy`` columns), checked against the training domain first
    (:func:`check_domain`).

    Arguments:
        threads: chunks made at once in parallel threads, each running torch on one thread
            (default :func:`default_threads`). On 2 CPU cores two chunks at once beat one chunk
            on two threads: the flow's elementwise kernels are too short to split well.
    """
    if chunk_size < 1:
        raise FlashgenError(f"chunk size must be positive, got {chunk_size}")
    total = len(conditions) if conditions is not None else n
    if conditions is not None:
        conditions.select(model.condition_names)  # fails clearly on missing columns
        check_domain(model, conditions, allow_extrapolation=allow_extrapolation, warn=warn)
    elif model.conditions is not None:
        raise FlashgenError("this model is conditional: pass --conditions with columns "
                            + ", ".join(model.condition_names))
    yield from chunks_between(model, seed, chunk_size, 0, total, conditions, threads)


def chunks_between(model: AnyModel, seed: int, chunk_size: int, start: int, stop: int,
                   conditions: Conditions | None = None,
                   threads: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """The chunks of events ``[start, stop)`` of a run, in order (``start`` a multiple of
    ``chunk_size``; chunk ``k`` holds events ``[k * chunk_size, (k + 1) * chunk_size)``), made
    ``threads`` at a time (default :func:`default_threads`) by :func:`make_chunk`."""
    jobs = [(first // chunk_size, first, min(first + chunk_size, stop))
            for first in range(start, stop, chunk_size)]
    yield from in_threads(lambda job: make_chunk(model, seed, *job, conditions), jobs,
                          default_threads(model) if threads is None else threads)


def in_threads(work: Callable[[J], R], jobs: Sequence[J], threads: int) -> Iterator[R]:
    """``work(job)`` for each job, in order, ``threads`` at a time in parallel threads that run
    torch on one thread each (torch's thread count is restored after); at most ``threads + 1``
    results are held. One thread: in this thread, torch's threads unchanged."""
    if threads <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield work(job)
        return
    # each torch operation on one thread while chunks are made in parallel threads
    with one_torch_thread(), ThreadPoolExecutor(threads) as pool:
        pending: deque[Future[R]] = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(work, job))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def make_chunk(model: AnyModel, seed: int, index: int, start: int, stop: int,
               conditions: Conditions | None = None) -> dict[str, np.ndarray]:
    """Chunk ``index`` of a run: events ``[start, stop)``, randomness from ``derive_seed(seed,
    index)`` alone (so any process can make any chunk), condition rows ``[start, stop)``."""
    if isinstance(model, EnsembleModel):
        return _ensemble_chunk(model, seed, index, start, stop, conditions)
    return _rows(model, derive_seed(seed, index), start, stop, conditions)


def _rows(model: FlashModel, seed: int, start: int, stop: int,
          conditions: Conditions | None) -> dict[str, np.ndarray]:
    """Events ``[start, stop)`` of ``model`` (condition rows ``[start, stop)``) from ``seed``."""
    gen = torch.Generator(device=model.device)
    gen.manual_seed(seed)
    cond = None
    if conditions is not None:
        cond = _condition_tensors(conditions.take(slice(start, stop)), model.condition_names, model.device)
    out = generate_columns(model, stop - start, gen, cond)
    if isinstance(conditions, Oversampled):
        out.update(conditions.labels(start, stop))
    return out


def member_split(n: int, members: int, index: int) -> np.ndarray:
    """Events of each member in chunk ``index`` of ``n`` events: ``n // members`` each, the
    remainder to the members ``index, index + 1, ...`` (mod ``members``), so that over a run the
    members' counts differ by at most one."""
    counts = np.full(members, n // members)
    counts[(index + np.arange(n % members)) % members] += 1
    return counts


def _ensemble_chunk(model: EnsembleModel, seed: int, index: int, start: int, stop: int,
                    conditions: Conditions | None) -> dict[str, np.ndarray]:
    """Chunk ``index`` of an ensemble: consecutive blocks of events from each member, member
    ``j`` drawing from ``derive_seed(seed, index, j)``, plus the ``member`` column."""
    parts, first = [], start
    for j, count in enumerate(member_split(stop - start, len(model), index)):
        if count == 0:
            continue
        try:
            part = _rows(model.members[j], derive_seed(seed, index, j), first, first + int(count), conditions)
        except FlashgenError as err:  # say which member is broken
            raise FlashgenError(f"ensemble member {j} of {len(model)}: {err}") from None
        part[MEMBER_COLUMN.name] = np.full(int(count), j, dtype=np.int16)
        parts.append(part)
        first += count
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def metadata(model: AnyModel, seed: int, chunk_size: int) -> dict[str, Any]:
    """Metadata of a generated table: producer, seed, chunk size and the model's provenance."""
    return {"producer": f"flashgen generate ({model.kind})", "seed": seed, "chunk_size": chunk_size,
            "model": {k: model.info.get(k) for k in ("kind", "preset", "train_events", "source", "created",
                                                      "ensemble")}}


def sample(model: AnyModel, n: int, *, seed: int = 0, conditions: Conditions | None = None,
           chunk_size: int = DEFAULT_CHUNK, allow_extrapolation: bool = False,
           warn: Callable[[str], None] | None = None, threads: int | None = None) -> EventTable:
    """Generate ``n`` events (or one per condition row) into an :class:`EventTable` in memory
    (``threads``: :func:`iter_chunks`)."""
    chunks = list(iter_chunks(model, n, seed=seed, conditions=conditions, chunk_size=chunk_size,
                              allow_extrapolation=allow_extrapolation, warn=warn, threads=threads))
    cols = output_columns(model, conditions)
    data = {c.name: np.concatenate([ch[c.name] for ch in chunks]) if chunks else np.zeros(0)
            for c in cols}
    return EventTable(data, {c.name: c for c in cols}, metadata(model, seed, chunk_size))


def as_precision(chunk: dict[str, np.ndarray], precision: str,
                 keep: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """``chunk`` with floating-point columns in the storage ``precision``; integers and the
    columns ``keep`` (conditions copied from the user's table) unchanged."""
    dtype = np.dtype(precision)
    return {k: v.astype(dtype, copy=False) if v.dtype.kind == "f" and k not in keep else v
            for k, v in chunk.items()}


@dataclass(frozen=True)
class GenerationResult:
    """What :func:`generate` did."""

    path: Path
    events: int
    seconds: float
    redrawn: int | None = None
    """Events redrawn because a feature fell beyond the model's training range (+ margin) or
    outside its preset's acceptance; ``None``: nothing is checked."""
    unsupported: int | None = None
    """For a conditional model: events with a feature beyond the training range (+ margin),
    counted, not redrawn; ``None`` otherwise."""

    @property
    def events_per_second(self) -> float:
        return self.events / max(self.seconds, 1e-9)


@dataclass(frozen=True)
class Sampling:
    """How events are drawn and stored; the same settings give identical events.

    Arguments:
        seed: seeds every chunk (chunk ``i`` from ``derive_seed(seed, i)``).
        chunk_size: events generated and written at once (part of what the seed means).
        precision: storage of generated floating-point columns, ``"float32"`` (default) or
            ``"float64"`` (integer columns stay integers, copied conditions as given; NanoAOD
            output is float32 regardless).
        allow_extrapolation: generate for conditions outside the training domain
            (:func:`check_domain`) instead of refusing more than :data:`EXTRAPOLATION_LIMIT`.
        threads: chunks made at once (:func:`iter_chunks`; ``None``: one per torch CPU thread).
    """

    seed: int = 0
    chunk_size: int = DEFAULT_CHUNK
    precision: str = "float32"
    allow_extrapolation: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise FlashgenError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise FlashgenError(f"chunk size must be a positive integer, got {self.chunk_size!r}")
        if self.precision not in PRECISIONS:
            raise FlashgenError(f"unknown precision '{self.precision}'; choose from {', '.join(PRECISIONS)}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise FlashgenError(f"threads must be a positive integer, got {self.threads!r}")


def generate(model: AnyModel, out: str | os.PathLike[str], n_events: int, *,
             sampling: Sampling = Sampling(), conditions: Conditions | None = None,
             nanoaod: bool = False, quiet: bool = False,
             warn: Callable[[str], None] | None = None) -> GenerationResult:
    """Generate ``n_events`` (or one per row of ``conditions``) and stream them to ``out``.

    Arguments:
        model: the trained model.
        out: ``.parquet`` or ``.root`` file (written atomically); with ``nanoaod``, ``.root``.
        n_events: number of events; ignored with ``conditions``.
        sampling: seed, chunk size, precision, extrapolation and threads (:class:`Sampling`).
        conditions: table with the model's condition columns, for conditional models;
            :class:`Oversampled` for several rows per condition row.
        nanoaod: write NanoAOD-like ``Events`` (:mod:`flashgen.nanoaod`; the model's source
            needs a NanoAOD mapping) instead of the table's columns.
        quiet: no progress bar.
        warn: receives the warning about conditions outside the training domain and the one
            about generated events beyond the model's training range, which are redrawn
            (:func:`redrawn_events`; the count is in the result and, for a table of at most
            :data:`~flashgen.data.ROW_GROUP_EVENTS` events, in its metadata as ``redrawn``;
            not warned again when conditions outside the training domain were reported).

    Raises:
        FlashgenError: an unwritable output, a request larger than the free disk space,
            conditions outside the training domain, a model that generates non-finite values.
    """
    check_output_path(out)
    if conditions is None and n_events < 1:
        raise FlashgenError(f"number of events must be positive, got {n_events}")
    seed, chunk_size, precision = sampling.seed, sampling.chunk_size, sampling.precision
    total = len(conditions) if conditions is not None else n_events
    columns = output_columns(model, conditions)
    check_disk(out, total, len(columns), np.dtype(precision).itemsize)
    meta = metadata(model, seed, chunk_size)
    if isinstance(conditions, Oversampled):
        meta["oversample"] = {"copies": conditions.copies, "events": len(conditions.table)}
    sink: TableWriter | NanoAODWriter
    if nanoaod:
        names = [c.name for c in model.output_columns]
        sink = NanoAODWriter(out, model.output_columns, meta, profile=nanoaod_profile(names))
    else:
        sink = TableWriter(out, columns, meta)
    start = time.perf_counter()
    checked, bounds = checked_support(model)
    redrawn = unsupported = 0
    warned: list[str] = []  # the domain warning, if any, already covers extrapolated features

    def relay(message: str) -> None:
        warned.append(message)
        if warn is not None:
            warn(message)
    with torch.inference_mode(), sink as writer, \
            progress(total=total, desc="generating", unit="ev", quiet=quiet) as bar:
        for chunk in iter_chunks(model, n_events, seed=seed, conditions=conditions, chunk_size=chunk_size,
                                 allow_extrapolation=sampling.allow_extrapolation, warn=relay,
                                 threads=sampling.threads):
            redrawn += redrawn_events(chunk)
            if bounds:
                unsupported += count_unsupported(chunk, bounds)
            writer.write(as_precision(chunk, precision, keep=model.condition_names))
            bar.update(len(next(iter(chunk.values()))))
        if checked:  # recorded when the writer has not yet written its metadata (first row group)
            writer.meta["redrawn"] = {"events": redrawn, "of": total}
        if bounds:
            writer.meta["unsupported"] = {"events": unsupported, "of": total}
    if warn is not None and not warned:
        for message in support_warnings(redrawn, unsupported, total):
            warn(message)
    return GenerationResult(Path(out), total, time.perf_counter() - start, redrawn if checked else None,
                            unsupported if bounds else None)
