"""Generation into a sharded Parquet dataset, parallel over Dask workers and resumable.

The output is a folder::

    DIR/_flashgen_generate.json     manifest: model digest, events, seed, chunk and shard sizes;
                                    events redrawn (or, for a conditional model, counted) beyond
                                    the model's training range, per shard and in all
    DIR/part-00000.parquet ...      shard i: chunks [i * chunks_per_shard, (i + 1) * chunks_per_shard)

Chunk ``k`` is made by :func:`flashgen.generation.make_chunk` from ``derive_seed(seed, k)``
alone, whichever worker makes it, so the concatenated shards are the events that
``flashgen generate`` writes to a single file with the same model, seed and chunk size, for any
number of workers. Each shard is written atomically; a rerun with the same settings makes only
the missing shards, a rerun with other settings is refused (or, forced, starts afresh). A run that
fails before its first shard leaves no manifest behind. ``flashgen.data.read_table(DIR)`` (and
``pyarrow.dataset``, ``dask.dataframe.read_parquet``) read the folder.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import GENERATED_DATASET_MANIFEST, EventTable, TableWriter, read_table
from .errors import FlashgenError
from .files import file_digest, remove_temporaries, undo_new_folder
from .generation import (Conditions, GenerationResult, Oversampled, Sampling, as_precision,
                         check_disk, check_domain, checked_support, chunks_between, count_unsupported, metadata,
                         output_columns, redrawn_events, support_warnings)
from .manifest import Manifest
from .models.ensemble import EnsembleModel, load_model
from .models.flashmodel import FlashModel
from .executor import Executor
from .progress import progress

__all__ = ["DEFAULT_SHARD_CHUNKS", "RUN_FILE", "Placement", "ShardDone", "ShardJob", "generate_shard",
           "generate_sharded", "shard_path"]

RUN_FILE = GENERATED_DATASET_MANIFEST
DEFAULT_SHARD_CHUNKS = 50
"""Chunks per shard by default (10⁶ events with chunks of 20,000: ~60 MB of Z→μμ in float32)."""


def shard_path(folder: str | os.PathLike[str], index: int) -> Path:
    """File of shard ``index`` in a generated dataset folder."""
    return Path(folder) / f"part-{index:05d}.parquet"


@functools.lru_cache(maxsize=4)
def _load(path: str, digest: str, device: str) -> FlashModel | EnsembleModel:
    """The model, loaded once per worker process (``digest`` keys the cache to the file's bytes)."""
    return load_model(path, device=device)


@functools.lru_cache(maxsize=2)
def _conditions(path: str, digest: str) -> EventTable:
    """The conditions table, read once per worker process, not once per shard."""
    return read_table(path)


@dataclass(frozen=True)
class Placement:
    """Where a sharded generation runs and how it is cut.

    Arguments:
        workers: local Dask worker processes (1: in this process, torch's default threads).
        scheduler: address of a running Dask scheduler instead; its workers must see the model,
            the conditions and the output folder under the same paths.
        shard_chunks: chunks per shard file.
        device: where each worker runs the network.
    """

    workers: int = 1
    scheduler: str | None = None
    shard_chunks: int = DEFAULT_SHARD_CHUNKS
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name, value in (("workers", self.workers), ("chunks per shard", self.shard_chunks)):
            if not isinstance(value, int) or value < 1:
                raise FlashgenError(f"the number of {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ShardJob:
    """One shard: events ``[start, stop)`` of the dataset (``start`` a multiple of the chunk size).

    Arguments:
        model_path, digest: the model file and its :func:`~flashgen.files.file_digest`.
        folder: the dataset folder.
        index: the shard's number (its file name).
        start, stop: the events it holds.
        sampling: seed, chunk size and precision of the whole dataset.
        conditions: the conditions table's path and digest, for a conditional model.
        oversample: rows per condition row (:class:`~flashgen.generation.Oversampled`), or None.
        device: where the network runs.
        threads: chunks made at once, each on one torch thread (1 per Dask worker; ``None``:
            :func:`~flashgen.generation.default_threads`, as ``flashgen generate`` in one process).
    """

    model_path: str
    digest: str
    folder: str
    index: int
    start: int
    stop: int
    sampling: Sampling
    conditions: tuple[str, str] | None = None
    oversample: int | None = None
    device: str = "cpu"
    threads: int | None = None


@dataclass(frozen=True)
class ShardDone:
    """What :func:`generate_shard` wrote, counted as :func:`flashgen.generation.generate` does:
    ``events``; ``redrawn``, how many were redrawn because a feature fell beyond the model's
    training range (+ margin) or outside its preset's acceptance, ``None`` when nothing is
    redrawn for this model; ``unsupported``, for a conditional model, how many have a feature
    beyond the training range (counted, not redrawn), else ``None``."""

    events: int
    redrawn: int | None
    unsupported: int | None = None


def generate_shard(job: ShardJob, on_chunk: Callable[[int], None] | None = None) -> ShardDone:
    """Make shard ``job.index``, written atomically to :func:`shard_path`. Runs in a Dask worker
    or in this process; ``on_chunk`` is called with each chunk's number of events (progress, in
    this process only)."""
    import torch

    seed, chunk_size, precision = job.sampling.seed, job.sampling.chunk_size, job.sampling.precision
    conditions, oversample, threads, start, stop = job.conditions, job.oversample, job.threads, job.start, job.stop
    model_path, digest, folder, index, device = job.model_path, job.digest, job.folder, job.index, job.device
    model = _load(model_path, digest, device)
    table: Conditions | None = _conditions(*conditions) if conditions is not None else None
    if table is not None and oversample is not None:
        table = Oversampled(table, oversample)
    meta = {**metadata(model, seed, chunk_size), "shard": index, "events_first": start}
    checked, bounds = checked_support(model)
    redrawn = unsupported = 0
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with TableWriter(shard_path(folder, index), output_columns(model, table), meta) as out:
            for chunk in chunks_between(model, seed, chunk_size, start, stop, table, threads):
                redrawn += redrawn_events(chunk)
                if bounds:
                    unsupported += count_unsupported(chunk, bounds)
                out.write(as_precision(chunk, precision, keep=model.condition_names))
                if on_chunk is not None:
                    on_chunk(len(next(iter(chunk.values()))))
    finally:
        torch.set_num_threads(before)
    return ShardDone(stop - start, redrawn if checked else None, unsupported if bounds else None)


def generate_sharded(model_path: str | os.PathLike[str], out: str | os.PathLike[str], n_events: int, *,
                     sampling: Sampling = Sampling(), conditions_path: str | os.PathLike[str] | None = None,
                     oversample: int | None = None, placement: Placement = Placement(),
                     quiet: bool = False, warn: Callable[[str], None] | None = None,
                     force: bool = False) -> GenerationResult:
    """Generate ``n_events`` (or one per row of the conditions table) into the dataset folder ``out``.

    Arguments:
        model_path: model file written by ``flashgen train``.
        out: dataset folder (created; new, empty, or an interrupted run with the same settings,
            which is finished; a finished one is left as it is).
        n_events: number of events; ignored with ``conditions_path``.
        sampling: as for :func:`flashgen.generation.generate`; with the same seed and chunk size
            the concatenated shards equal its single file.
        conditions_path: table of condition columns for a conditional model (every worker reads it).
        oversample: rows per condition row (columns ``event`` and ``copy``), or None.
        placement: workers or scheduler, chunks per shard, device (:class:`Placement`).
        quiet: no progress bar.
        warn: receives the warning about conditions outside the training domain and those about
            generated events beyond the model's training range (or its preset's acceptance),
            redrawn or, for a conditional model, counted as in :func:`~flashgen.generation.generate`:
            counted in every shard, summed over the dataset and recorded in its manifest as
            ``redrawn`` and ``unsupported`` (per shard as ``redrawn_by_shard`` and
            ``unsupported_by_shard``); not warned again when conditions outside the training
            domain were reported.
        force: replace a generated dataset made with other settings (its shards are removed
            first) instead of refusing it.

    Returns:
        The folder, the events written by this call, its seconds, and the events of the whole
        dataset redrawn and beyond the training range as in
        :class:`~flashgen.generation.GenerationResult`.

    Raises:
        FlashgenError: bad sizes, an unusable folder or model, other settings than the stored
            run (without ``force``), conditions outside the training domain, a request larger
            than the free disk.
    """
    seed, chunk_size, precision = sampling.seed, sampling.chunk_size, sampling.precision
    shard_chunks, allow_extrapolation = placement.shard_chunks, sampling.allow_extrapolation
    model_file = Path(model_path).absolute()
    model = load_model(model_file)
    warned: list[str] = []  # the domain warning, if any, already covers extrapolated features

    def relay(message: str) -> None:
        warned.append(message)
        if warn is not None:
            warn(message)
    conditions: Conditions | None = None
    cond_file = None
    if conditions_path is not None:
        if not model.condition_names:
            raise FlashgenError(f"{model_path} is unconditional; drop the conditions")
        cond_file = Path(conditions_path).absolute()
        conditions = read_table(cond_file)
        conditions.select(model.condition_names)
        check_domain(model, conditions, allow_extrapolation=allow_extrapolation, warn=relay)
    elif model.condition_names:
        raise FlashgenError("this model is conditional: pass --conditions with columns "
                            + ", ".join(model.condition_names))
    elif n_events < 1:
        raise FlashgenError(f"number of events must be positive, got {n_events}")
    if oversample is not None and conditions is None:
        raise FlashgenError("oversampling repeats condition rows: give a conditions table")
    if conditions is not None and oversample is not None:
        conditions = Oversampled(conditions, oversample)
    total = len(conditions) if conditions is not None else n_events
    digest = file_digest(model_file)
    cond_job = (str(cond_file), file_digest(cond_file)) if cond_file is not None else None
    settings = {"producer": "flashgen generate", "model": digest, "events": total, "seed": seed,
                "chunk_size": chunk_size, "shard_chunks": shard_chunks, "precision": precision,
                "conditions": cond_job[1] if cond_job is not None else None}
    if oversample is not None:
        settings["oversample"] = oversample
    folder = Path(out).absolute()
    n_columns, itemsize = len(output_columns(model, conditions)), np.dtype(precision).itemsize
    if not (folder / RUN_FILE).exists():  # a new dataset: refuse up front what cannot fit
        check_disk(folder / "part.parquet", total, n_columns, itemsize)
    shard = shard_chunks * chunk_size
    bounds = [(s, min(s + shard, total)) for s in range(0, total, shard)]
    with undo_new_folder(folder, RUN_FILE):
        manifest = Manifest.open(folder, RUN_FILE, settings, what="generated dataset", force=force,
                                 hint="rerun with the same model and settings to resume it, pass "
                                 "--force to replace it, or choose another --out")
        if manifest.changed:
            _start_afresh(manifest)
        elif manifest.resumed:
            remove_temporaries(folder)
        missing = [i for i in range(len(bounds)) if not shard_path(folder, i).exists()]
        remaining = sum(bounds[i][1] - bounds[i][0] for i in missing)
        check_disk(folder / "part.parquet", remaining, n_columns, itemsize)
        counts = _recorded_counts(manifest, model, len(bounds), missing)
        for key, per_shard in counts.items():
            manifest.state[f"{key}_by_shard"] = per_shard  # filled in as shards finish
        start = time.perf_counter()
        with ExitStack() as stack:
            executor = Executor(stack, placement.workers, placement.scheduler, len(missing))
            threads = 1 if executor.parallel else None
            jobs = [(ShardJob(str(model_file), digest, str(folder), i, *bounds[i], sampling, cond_job, oversample,
                              placement.device, threads),) for i in missing]
            bar = stack.enter_context(progress(total=total, initial=total - remaining, desc="generating",
                                               unit="ev", quiet=quiet))

            def done(job: tuple[ShardJob], result: ShardDone) -> None:
                if executor.parallel:  # in this process the bar advances chunk by chunk
                    bar.update(result.events)
                for key, per_shard in counts.items():
                    value = getattr(result, key)
                    if value is not None:
                        per_shard[str(job[0].index)] = value
                if counts:
                    manifest.save()

            executor.map(generate_shard, jobs, on_done=done, local={"on_chunk": bar.update})
        seconds = time.perf_counter() - start
    totals = {key: sum(per_shard.values()) for key, per_shard in counts.items()}
    manifest.state.update({"complete": True, "shards": len(bounds)})
    for key, events in totals.items():
        manifest.state[key] = {"events": events, "of": total}
    manifest.save()
    redrawn, unsupported = totals.get("redrawn"), totals.get("unsupported")
    if warn is not None and not warned:
        for message in support_warnings(redrawn, unsupported, total):
            warn(message)
    return GenerationResult(folder, remaining, seconds, redrawn, unsupported)


def _start_afresh(manifest: Manifest) -> None:
    """Replace the dataset of other settings in ``manifest``'s folder (``force``): mark it
    unfinished under its old settings, remove its shards, then take the new settings, so that a
    kill on the way leaves a folder that is refused or redone, never one that mixes the two."""
    new = manifest.settings
    manifest.settings = manifest.previous
    manifest.state = {k: v for k, v in manifest.state.items() if k in ("flashgen_version", "created")}
    manifest.save()
    for old in manifest.folder.glob("part-*.parquet"):
        old.unlink()
    remove_temporaries(manifest.folder)
    manifest.settings = new
    manifest.save()


def _recorded_counts(manifest: Manifest, model: FlashModel | EnsembleModel, shards: int,
                     missing: list[int]) -> dict[str, dict[str, int]]:
    """The counts of :class:`ShardDone` that ``model`` has (``"redrawn"``, ``"unsupported"``),
    each by finished shard (number as text), from the manifest. A finished shard without a record
    (written by a flashgen that did not count) is counted from its events: those beyond the
    training range (:func:`~flashgen.generation.count_unsupported`), which are what a redrawing
    run would have redrawn (the acceptance aside)."""
    checked, bounds = checked_support(model)
    counts: dict[str, dict[str, int]] = {}
    for key, applies in (("redrawn", checked), ("unsupported", bool(bounds))):
        if not applies:
            continue
        stored = manifest.state.get(f"{key}_by_shard")
        known = {k: v for k, v in stored.items() if isinstance(v, int)} if isinstance(stored, dict) else {}
        for i in range(shards):
            if i not in missing and str(i) not in known:
                table = read_table(shard_path(manifest.folder, i), allow_empty=True)
                known[str(i)] = count_unsupported(table.data, model.support)
        counts[key] = {k: v for k, v in known.items() if int(k) not in missing}
    return counts
