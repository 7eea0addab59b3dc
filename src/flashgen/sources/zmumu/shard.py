"""One shard of the Z→μμ reference: generate, add pileup, detect, select, write.

A shard is fully determined by ``(seed, shard index, n_events, pileup mu, library)``: its
``SeedSequence(seed, spawn_key=(0, index))`` spawns the PYTHIA seed and the NumPy generator
used for pileup picks and detector response. Events are processed in batches of
:data:`BATCH_EVENTS` (bounded memory with pileup, and many events per FastJet call).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...data import EventTable, write_table
from ...errors import FlashgenError
from ...seeds import seed_sequence
from .analysis import analyse
from .schema import SELECTED, shard_columns
from .detector import reconstruct
from .genlevel import gen_level
from .generator import DRELL_YAN_SETTINGS, generate_drell_yan, make_pythia, pythia_seed
from .particles import Particles
from .pileup import PileupLibrary, library_path, load_library, overlay

__all__ = ["BATCH_EVENTS", "LEVELS", "PRODUCER", "SHARD_KEY", "run_shard", "shard_path", "shard_seed",
           "simulate_shard"]

BATCH_EVENTS = 100
"""Hard events processed together (generation, pileup, detector, one FastJet call)."""

SHARD_KEY = 0
"""First spawn-key entry of shard seeds (the pileup library uses 1)."""

PRODUCER = "flashgen simulate zmumu"

LEVELS = ("reco", "gen")
"""What a shard holds: the full chain (``reco``) or the generator level only (``gen``)."""


def shard_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of shard ``index`` of a run with ``seed``."""
    return seed_sequence(seed, SHARD_KEY, index)


def shard_path(out: str | Path, index: int) -> Path:
    """File of shard ``index`` inside the dataset folder ``out``."""
    return Path(out) / f"shard-{index:05d}.parquet"


def simulate_shard(seed: int, index: int, n_events: int, pileup: float,
                   library: PileupLibrary | None,
                   on_batch: Callable[[int], None] | None = None, *, level: str = "reco",
                   keep_unselected: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """Simulate ``n_events`` generated events of shard ``index``; keep the selected ones.

    Arguments:
        seed: run seed.
        index: shard index.
        n_events: hard events to generate.
        pileup: mean number of pileup interactions mu (0: none).
        library: minimum-bias library to pick pileup from (required when ``pileup > 0`` at
            ``level="reco"``).
        on_batch: called with the number of events after each batch (progress).
        level: ``"reco"``: the full chain; ``"gen"``: the generator-level columns of every
            event only, without pileup particles or detector (the number of pileup interactions
            is still drawn, Poisson(``pileup``), and recorded).
        keep_unselected: at ``level="reco"``, keep every event (column ``selected``).

    Returns:
        ``(columns, pythia_seed)``: the columns of :func:`~.columns.shard_columns` and the
        PYTHIA seed used.
    """
    if level not in LEVELS:
        raise FlashgenError(f"unknown level '{level}'; choose from {', '.join(LEVELS)}")
    if level == "reco" and pileup > 0 and library is None:
        raise FlashgenError("pileup > 0 needs a pileup library")
    pythia_seq, rng_seq = shard_seed(seed, index).spawn(2)
    pseed = pythia_seed(pythia_seq)
    pythia = make_pythia(DRELL_YAN_SETTINGS, pseed)
    rng = np.random.default_rng(rng_seq)
    parts = []
    for start in range(0, n_events, BATCH_EVENTS):
        size = min(BATCH_EVENTS, n_events - start)
        hard = generate_drell_yan(pythia, size)
        if level == "gen":
            parts.append({**gen_level(hard), "gen_z_pt": hard.z_pt, "gen_z_mass": hard.z_mass,
                          "n_pileup": rng.poisson(pileup, size).astype(np.float64)})
        elif library is not None and pileup > 0:
            pu, n_pileup = overlay(library, size, pileup, rng)
            particles = Particles.concat([hard.particles, pu])
        else:
            particles, n_pileup = hard.particles, np.zeros(size, dtype=np.int64)
        if level == "reco":
            parts.append(analyse(reconstruct(particles, rng), particles, hard, n_pileup, keep_unselected))
        if on_batch is not None:
            on_batch(size)
    columns = {c.name: np.concatenate([p[c.name] for p in parts])
               for c in shard_columns(level, keep_unselected)}
    return columns, pseed


_LIBRARY_CACHE: dict[tuple[str, int, int], PileupLibrary] = {}


def _library(out: Path, seed: int, library_events: int) -> PileupLibrary:
    """The run's pileup library, read once per process."""
    key = (str(out.resolve()), seed, library_events)
    if key not in _LIBRARY_CACHE:
        library = load_library(library_path(out, seed), seed, library_events)
        if library is None:
            raise FlashgenError(f"pileup library {library_path(out, seed)} is missing or was built "
                                "with other parameters; rerun the command to rebuild it")
        _LIBRARY_CACHE.clear()
        _LIBRARY_CACHE[key] = library
    return _LIBRARY_CACHE[key]


def run_shard(out: str | Path, seed: int, index: int, n_events: int, pileup: float,
              library_events: int, level: str = "reco", keep_unselected: bool = False,
              on_batch: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Simulate shard ``index`` (:func:`simulate_shard`) and write it atomically to
    :func:`shard_path`.

    Returns:
        ``{"index", "generated", "selected"}`` of the shard (at ``level="gen"`` every event
        counts as selected).
    """
    out = Path(out)
    library = _library(out, seed, library_events) if pileup > 0 and level == "reco" else None
    columns, pseed = simulate_shard(seed, index, n_events, pileup, library, on_batch, level=level,
                                    keep_unselected=keep_unselected)
    if level == "gen":
        selected = n_events
    elif keep_unselected:
        selected = int(np.sum(columns[SELECTED.name]))
    else:
        selected = len(columns["nvtx"])
    meta = {
        "producer": PRODUCER, "seed": seed, "shard": index, "pythia_seed": pseed,
        "pileup_mu": pileup,
        "pileup_library_events": library_events if pileup > 0 and level == "reco" else 0,
        "level": level, "keep_unselected": keep_unselected,
        "events_generated": n_events, "events_selected": selected,
        "selection_efficiency": selected / n_events,
    }
    schema = {c.name: c for c in shard_columns(level, keep_unselected)}
    write_table(EventTable(columns, schema, meta), shard_path(out, index))
    return {"index": index, "generated": n_events, "selected": selected}
