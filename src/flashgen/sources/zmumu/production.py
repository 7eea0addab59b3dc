"""Sharded, parallel and resumable production of the Z→μμ reference dataset.

The output is a folder::

    DIR/_flashgen_run.json          run manifest: the parameters (a resume must use the same ones)
    DIR/_pileup/library-<seed>.parquet   minimum-bias library (only with pileup)
    DIR/shard-00000.parquet ...     selected events, one file per shard

``n_events`` counts *generated* hard events; the selected ones (about 40 %) are stored. Shard
``i`` holds the selected events among generated events ``[i * shard_size, (i + 1) *
shard_size)`` (the last shard may be shorter), is seeded from ``(seed, i)`` alone and written
atomically, so the dataset never depends on the number of workers, and rerunning an interrupted
command only produces the missing shards and ends with the identical dataset.
``flashgen.data.read_table(DIR)`` reads it (shards in name order, ``_`` files skipped).
"""

from __future__ import annotations

import math
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...data import SIMULATED_DATASET_MANIFEST, read_table
from ...errors import FlashgenError
from ...files import check_disk, remove_temporaries
from ...manifest import Manifest
from ...executor import Executor, Workers
from ...progress import progress
from .pileup import LIBRARY_CHUNK, build_library, library_is_built, library_path
from .shard import LEVELS, PRODUCER, run_shard, shard_path

__all__ = [
    "DEFAULT_LIBRARY_EVENTS",
    "DEFAULT_PILEUP",
    "DEFAULT_SHARD_SIZE",
    "MAX_PILEUP",
    "RUN_FILE",
    "ZmumuOptions",
    "run_parameters",
    "shard_sizes",
    "simulate_zmumu",
]

DEFAULT_SHARD_SIZE = 500
"""Generated events per shard."""

DEFAULT_PILEUP = 20.0
"""Mean number of pileup interactions per event."""

DEFAULT_LIBRARY_EVENTS = 5000
"""Minimum-bias events in the pileup library."""

MAX_PILEUP = 200.0
"""Largest accepted mean pileup (HL-LHC conditions)."""

RUN_FILE = SIMULATED_DATASET_MANIFEST
_FORMAT = 3  # 2: pileup-corrected jets and the rho column; 3: generator-level columns


def shard_sizes(n_events: int, shard_size: int) -> list[int]:
    """Generated events of each shard: ``shard_size`` each, the remainder in the last one."""
    return [min(shard_size, n_events - start) for start in range(0, n_events, shard_size)]


@dataclass(frozen=True)
class ZmumuOptions:
    """What a Z→μμ reference holds besides its size and seed (validated on construction).

    Arguments:
        pileup: mean number of minimum-bias interactions per event (Poisson); 0 for none.
        shard_size: generated events per shard (fixes the shard layout).
        library_events: minimum-bias events in the pileup library.
        level: ``"reco"``, the full chain, or ``"gen"``: the generator-level columns of every
            event without pileup particles, detector or selection (what a flash simulation is
            fed; no pileup library is built).
        keep_unselected: at ``level="reco"``, store every generated event with a 0/1
            ``selected`` column (reconstructed columns NaN where 0).
    """

    pileup: float = DEFAULT_PILEUP
    shard_size: int = DEFAULT_SHARD_SIZE
    library_events: int = DEFAULT_LIBRARY_EVENTS
    level: str = "reco"
    keep_unselected: bool = False

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise FlashgenError(f"unknown level '{self.level}'; choose from {', '.join(LEVELS)}")
        if self.level == "gen" and self.keep_unselected:
            raise FlashgenError("--keep-unselected applies to the full chain: at --level gen every "
                                "generated event is stored (there is no selection)")
        for name, value in (("shard size", self.shard_size), ("pileup library size", self.library_events)):
            if not isinstance(value, int) or value < 1:
                raise FlashgenError(f"the number of {name} must be a positive integer, got {value!r}")
        if not (math.isfinite(self.pileup) and 0 <= self.pileup <= MAX_PILEUP):
            raise FlashgenError(f"pileup mu must be a number in [0, {MAX_PILEUP:g}], got {self.pileup!r}")


def run_parameters(n_events: int, seed: int, options: ZmumuOptions) -> dict[str, Any]:
    """The parameters that define a dataset (stored in ``DIR/_flashgen_run.json``)."""
    o = options
    return {"producer": PRODUCER, "format": _FORMAT, "events": n_events, "seed": seed,
            "pileup": float(o.pileup), "shard_size": o.shard_size,
            "pileup_library_events": o.library_events if o.pileup > 0 and o.level == "reco" else 0,
            "level": o.level, "keep_unselected": bool(o.keep_unselected)}


def _check_arguments(n_events: int, seed: int) -> None:
    if not isinstance(n_events, int) or n_events < 1:
        raise FlashgenError(f"the number of events must be a positive integer, got {n_events!r}")
    if not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise FlashgenError(f"seed must be an integer in [0, 2**63), got {seed!r}")


SELECTED_FRACTION_BOUND = 0.5
"""Upper bound of the fraction of generated events the analysis selection keeps (measured
37-40 % with pileup 0-20), for the up-front disk check."""


def _check_disk(out: Path, n_events: int, options: ZmumuOptions) -> None:
    """Refuse up front a dataset that cannot fit on the disk (uncompressed float64 columns)."""
    from .schema import shard_columns

    stored = n_events if options.level == "gen" or options.keep_unselected else \
        math.ceil(n_events * SELECTED_FRACTION_BOUND)
    check_disk(out / "shard.parquet", stored, len(shard_columns(options.level, options.keep_unselected)), 8)


def _command(n_events: int, seed: int, options: ZmumuOptions) -> str:
    """The ``flashgen simulate zmumu`` command that makes (or finishes) this dataset."""
    o, d = options, ZmumuOptions()
    extra = [f"--pileup {o.pileup:g}" if o.pileup != d.pileup else "",
             f"--shard-size {o.shard_size}" if o.shard_size != d.shard_size else "",
             f"--pileup-library {o.library_events}" if o.library_events != d.library_events else "",
             f"--level {o.level}" if o.level != d.level else "",
             "--keep-unselected" if o.keep_unselected else ""]
    return " ".join(["'flashgen simulate zmumu", f"--events {n_events}", f"--seed {seed}",
                     *[e for e in extra if e], "--out DIR'"])


def _shard_counts(path: Path) -> tuple[int, int]:
    """``(generated, selected)`` events of a finished shard, from its metadata."""
    table = read_table(path, columns=["n_pileup"], allow_empty=True)
    return int(table.meta["events_generated"]), int(table.meta["events_selected"])


def simulate_zmumu(n_events: int, seed: int, out: str | os.PathLike[str], *,
                   options: ZmumuOptions = ZmumuOptions(), workers: Workers = Workers(),
                   quiet: bool = False) -> dict[str, Any]:
    """Produce (or complete) the Z→μμ reference dataset in the folder ``out``.

    Arguments:
        n_events: hard Drell-Yan events to generate (the selected ones are stored).
        seed: run seed; the same parameters and seed give an identical dataset.
        out: dataset folder (created; must be new, empty, or an interrupted run to resume).
        options: pileup, shard size, pileup library, level and what is kept (:class:`ZmumuOptions`).
        workers: local worker processes or a running Dask scheduler whose workers see ``out``
            under the same path (:class:`~flashgen.executor.Workers`); the dataset does not
            depend on them.
        quiet: no progress bar.

    Returns:
        Summary: ``out``, ``events_generated``, ``events_selected``, ``selection_efficiency``,
        ``shards``, ``shards_written`` (by this call), ``seconds`` (wall time of this call),
        ``library_seconds`` (of which building the pileup library, 0 when reused),
        ``events_per_second`` (events generated by this call per second of ``seconds``).
    """
    _check_arguments(n_events, seed)
    pileup, shard_size, library_events = options.pileup, options.shard_size, options.library_events
    level, keep_unselected = options.level, options.keep_unselected
    start = time.perf_counter()
    out_path = Path(out).absolute()
    params = run_parameters(n_events, seed, options)
    if not (out_path / RUN_FILE).exists():  # a new dataset: refuse up front what cannot fit
        _check_disk(out_path, n_events, options)
    manifest = Manifest.open(out_path, RUN_FILE, params, what="Z→μμ run",
                             hint="rerun with the same parameters to resume it, or choose another --out")
    sizes = shard_sizes(n_events, shard_size)
    manifest.state.update({"shards_expected": len(sizes), "complete": False,
                           "command": _command(n_events, seed, options)})
    manifest.save()
    missing = [i for i in range(len(sizes)) if not shard_path(out_path, i).exists()]
    done_events = n_events - sum(sizes[i] for i in missing)
    lib_path = library_path(out_path, seed)
    need_library = bool(missing) and pileup > 0 and level == "reco" and not library_is_built(lib_path, seed, library_events)
    n_chunks = math.ceil(library_events / LIBRARY_CHUNK) if need_library else 0
    with ExitStack() as stack:
        executor = Executor(stack, workers.count, workers.scheduler, max(len(missing), n_chunks), extra="zmumu")
        if manifest.resumed:  # half-written files of a killed run
            remove_temporaries(out_path)
            remove_temporaries(out_path / "_pileup")
        library_start = time.perf_counter()
        if need_library:
            with progress(total=library_events, unit="ev", desc="pileup library",
                          quiet=quiet) as lib_bar:
                build_library(seed, library_events, lib_path, mapper=lambda func, jobs: executor.map(
                    func, jobs, on_done=lambda job, _: lib_bar.update(job[-1])))
        library_seconds = time.perf_counter() - library_start
        bar = stack.enter_context(progress(total=n_events, desc="Z→μμ events", unit="ev",
                                           initial=done_events, quiet=quiet))
        jobs = [(out_path, seed, i, sizes[i], float(pileup), library_events, level, keep_unselected)
                for i in missing]
        # In this process the bar advances batch by batch; from workers, shard by shard.
        shard_done = (lambda job, result: bar.update(result["generated"])) if executor.parallel else None
        executor.map(run_shard, jobs, local={"on_batch": bar.update}, on_done=shard_done)
    seconds = time.perf_counter() - start
    manifest.state["complete"] = True
    manifest.save()
    counts = [_shard_counts(shard_path(out_path, i)) for i in range(len(sizes))]
    generated = sum(c[0] for c in counts)
    selected = sum(c[1] for c in counts)
    new_events = n_events - done_events
    return {
        "out": str(out_path), "events_generated": generated, "events_selected": selected,
        "selection_efficiency": selected / generated, "shards": len(sizes),
        "shards_written": len(missing), "seconds": seconds, "library_seconds": library_seconds,
        "events_per_second": new_events / seconds if new_events else 0.0,
    }
