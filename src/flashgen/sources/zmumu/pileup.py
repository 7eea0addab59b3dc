"""Pre-generated pileup: a library of minimum-bias events, overlaid by random picks.

Minimum-bias events (``SoftQCD:inelastic``) are expensive to initialise and interchangeable, so,
as experiments do with pre-mixed pileup, they are generated once per seed into a Parquet library
and reused: each hard event gets a Poisson(mu) number of interactions, each a random library
event rotated by a random azimuth and, with probability 1/2, mirrored in z (pz -> -pz). The
detector is applied afresh to every pick, so repeated picks are not repeated detector responses.

The library is built in chunks of :data:`LIBRARY_CHUNK` events, chunk ``j`` seeded from
``SeedSequence(seed, spawn_key=(LIBRARY_KEY, j))``; its content depends only on the seed and
its size, never on how many workers built it. On disk it is one flat particle table (one row
per stable visible particle, with its library ``event`` index), written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...data import Column, EventTable, read_table, write_table
from ...errors import FlashgenError
from ...seeds import seed_sequence
from .generator import MINIMUM_BIAS_SETTINGS, generate_minimum_bias, make_pythia, pythia_seed
from .particles import Particles

__all__ = [
    "LIBRARY_CHUNK",
    "LIBRARY_KEY",
    "PileupLibrary",
    "build_library",
    "library_chunk",
    "library_is_built",
    "library_path",
    "load_library",
    "overlay",
]

LIBRARY_CHUNK = 2500
"""Minimum-bias events per library chunk (one PYTHIA initialisation, ~6 s, per chunk)."""

LIBRARY_KEY = 1
"""First spawn-key entry of library seeds (shards use 0), so the two never share a stream."""

_LIBRARY_COLUMNS = [
    Column("event", "", "minimum-bias event index in the library"),
    Column("pid", "", "PDG identifier"),
    Column("charge", "e", "electric charge"),
    Column("px", "GeV", "momentum x"),
    Column("py", "GeV", "momentum y"),
    Column("pz", "GeV", "momentum z"),
    Column("e", "GeV", "energy"),
    Column("m", "GeV", "generator mass"),
]
_PRODUCER = "flashgen pileup library"


def library_path(out: str | Path, seed: int) -> Path:
    """Where the pileup library of ``seed`` lives inside the output folder ``out``."""
    return Path(out) / "_pileup" / f"library-{seed}.parquet"


def library_chunk(seed: int, chunk: int, n_events: int) -> Particles:
    """Generate chunk ``chunk`` of the library of ``seed``: ``n_events`` minimum-bias events."""
    seq = seed_sequence(seed, LIBRARY_KEY, chunk)
    pythia = make_pythia(MINIMUM_BIAS_SETTINGS, pythia_seed(seq))
    return generate_minimum_bias(pythia, n_events)


@dataclass
class PileupLibrary:
    """Minimum-bias events to pick from.

    Attributes:
        particles: all particles; ``particles.event`` is the library event index (sorted).
        offsets: ``(n_events + 1,)`` start of each event in ``particles``.
    """

    particles: Particles
    offsets: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of minimum-bias events."""
        return len(self.offsets) - 1

    @staticmethod
    def from_particles(particles: Particles, n_events: int) -> PileupLibrary:
        """A library from particles whose ``event`` runs over ``0 .. n_events - 1`` in order."""
        counts = np.bincount(particles.event, minlength=n_events)
        return PileupLibrary(particles, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def build_library(seed: int, n_events: int, path: Path,
                  mapper: Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]] | None = None
                  ) -> PileupLibrary:
    """Generate the library of ``seed`` with ``n_events`` events and write it to ``path``.

    Arguments:
        seed: run seed.
        n_events: minimum-bias events in the library.
        path: target Parquet file (written atomically; its folder is created).
        mapper: ``mapper(func, [args, ...]) -> [func(*args), ...]``, e.g. parallel over Dask
            workers; serial when ``None``.
    """
    if n_events < 1:
        raise FlashgenError("the pileup library needs at least one minimum-bias event")
    sizes = [min(LIBRARY_CHUNK, n_events - start) for start in range(0, n_events, LIBRARY_CHUNK)]
    jobs = [(seed, j, size) for j, size in enumerate(sizes)]
    if mapper is None:
        chunks = [library_chunk(*job) for job in jobs]
    else:
        chunks = mapper(library_chunk, jobs)
    for chunk, start in zip(chunks, np.cumsum([0, *sizes[:-1]])):
        chunk.event = chunk.event + start
    particles = Particles.concat(chunks)
    data = {"event": particles.event.astype(np.int32), "pid": particles.pid,
            "charge": particles.charge.astype(np.float32)}
    data.update({k: getattr(particles, k).astype(np.float32) for k in ("px", "py", "pz", "e", "m")})
    path.parent.mkdir(parents=True, exist_ok=True)
    table = EventTable(data, {c.name: c for c in _LIBRARY_COLUMNS},
                       {"producer": _PRODUCER, "seed": seed, "n_events": n_events})
    write_table(table, path)
    return _to_library(table, n_events)


def _to_library(table: EventTable, n_events: int) -> PileupLibrary:
    n = len(table)
    particles = Particles(
        event=table["event"].astype(np.int64), vertex=np.zeros(n, dtype=np.int32),
        pid=table["pid"].astype(np.int32),
        **{k: table[k].astype(np.float64) for k in ("charge", "px", "py", "pz", "e", "m")})
    return PileupLibrary.from_particles(particles, n_events)


def _read_library(path: Path, seed: int, n_events: int,
                  columns: Sequence[str] | None = None) -> EventTable | None:
    if not path.is_file():
        return None
    try:
        table = read_table(path, columns)
    except FlashgenError:
        return None
    meta = table.meta
    if meta.get("producer") != _PRODUCER or meta.get("seed") != seed or meta.get("n_events") != n_events:
        return None
    return table


def library_is_built(path: Path, seed: int, n_events: int) -> bool:
    """Whether ``path`` holds the library of ``seed`` with ``n_events`` events (reads one column)."""
    return _read_library(path, seed, n_events, ["event"]) is not None


def load_library(path: Path, seed: int, n_events: int) -> PileupLibrary | None:
    """The library at ``path`` if it was built for ``seed`` with ``n_events`` events, else None."""
    table = _read_library(path, seed, n_events)
    return None if table is None else _to_library(table, n_events)


def overlay(library: PileupLibrary, n_events: int, mu: float,
            rng: np.random.Generator) -> tuple[Particles, np.ndarray]:
    """Pileup for ``n_events`` hard events: Poisson(``mu``) random library picks per event.

    Each pick is rotated by a uniform azimuth in [0, 2 pi) and mirrored in z with probability
    1/2. Pick ``k`` of event ``i`` gets ``event = i`` and ``vertex = k + 1``.

    Returns:
        The pileup particles and the true number of interactions per event, ``(n_events,)``.
    """
    n_pileup = rng.poisson(mu, n_events)
    total = int(n_pileup.sum())
    picks = rng.integers(0, library.n_events, total)
    angle = rng.uniform(0.0, 2.0 * np.pi, total)
    flip = np.where(rng.random(total) < 0.5, -1.0, 1.0)
    pick_event = np.repeat(np.arange(n_events, dtype=np.int64), n_pileup)
    first_pick = np.concatenate([[0], np.cumsum(n_pileup)[:-1]])
    pick_vertex = (np.arange(total) - np.repeat(first_pick, n_pileup) + 1).astype(np.int32)
    starts = library.offsets[picks]
    counts = library.offsets[picks + 1] - starts
    # Indices of all particles of all picks: concatenated ranges [start, start + count).
    owner = np.repeat(np.arange(total), counts)
    index = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + starts[owner]
    lib = library.particles
    cos, sin = np.cos(angle)[owner], np.sin(angle)[owner]
    px, py = lib.px[index], lib.py[index]
    particles = Particles(
        event=pick_event[owner], vertex=pick_vertex[owner], pid=lib.pid[index],
        charge=lib.charge[index], px=cos * px - sin * py, py=sin * px + cos * py,
        pz=lib.pz[index] * flip[owner], e=lib.e[index], m=lib.m[index])
    return particles, n_pileup
