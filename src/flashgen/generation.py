"""Chunked, seeded generation streamed to disk.

:func:`generate` samples a :class:`~flashgen.models.FlashModel` in chunks and writes each chunk
to a Parquet or ROOT table as soon as it is made, so memory stays flat whatever the number of
events, and the file appears only when complete. The same model, seed and chunk size give an
identical file. With a conditions table, one event is generated per condition row and the
condition columns are copied into the output.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import EventTable, TableWriter, check_output_path
from .errors import FlashgenError
from .models.flashmodel import FlashModel
from .progress import progress

__all__ = ["GenerationResult", "generate"]

DEFAULT_CHUNK = 20_000
"""Events generated and written at once. Measured on 2 CPU cores (Z→μμ flow, 10⁶ events):
18 s with chunks of 20,000 against 46 s with 200,000, at half the memory (cache-sized
intermediate tensors); on a GPU larger chunks (10⁵-10⁶) are faster."""


@dataclass(frozen=True)
class GenerationResult:
    """What :func:`generate` did."""

    path: Path
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / max(self.seconds, 1e-9)


def generate(model: FlashModel, out: str | os.PathLike[str], n_events: int, *, seed: int = 0,
             conditions: EventTable | None = None, chunk_size: int = DEFAULT_CHUNK,
             quiet: bool = False) -> GenerationResult:
    """Generate ``n_events`` (or one per row of ``conditions``) and stream them to ``out``.

    Arguments:
        model: the trained model.
        out: ``.parquet`` or ``.root`` file (written atomically).
        n_events: number of events; ignored with ``conditions``.
        seed: the same seed (and chunk size) gives an identical output.
        conditions: table with the model's condition columns, for conditional models.
        chunk_size: events generated and written at once.
        quiet: no progress bar.
    """
    check_output_path(out)
    if conditions is None and n_events < 1:
        raise FlashgenError(f"number of events must be positive, got {n_events}")
    total = len(conditions) if conditions is not None else n_events
    meta = {"producer": f"flashgen generate ({model.kind})", "seed": seed,
            "model": {k: model.info.get(k) for k in ("kind", "preset", "train_events", "source", "created")},
            "chunk_size": chunk_size}
    start = time.perf_counter()
    with torch.inference_mode(), TableWriter(out, model.output_columns, meta) as writer, \
            progress(total=total, desc="generating", unit="ev", quiet=quiet) as bar:
        for chunk in model.iter_chunks(n_events, seed=seed, conditions=conditions, chunk_size=chunk_size):
            writer.write(chunk)
            bar.update(len(next(iter(chunk.values()))))
    return GenerationResult(Path(out), total, time.perf_counter() - start)
