"""flashgen: fast generative surrogates for particle-physics simulation, with honest statistics.

Data flows one way: ``sources`` write event tables (and declare, in their profiles, what flashgen
knows about them: columns, derived quantities, presets, validation slicings, exact truths),
``transforms`` + ``models`` are fitted to a table by ``training`` and saved as one model file,
``generation`` samples it into a new table, ``validation`` compares two tables and ``stats`` says
what a generated sample is worth.

Shared machinery is written once: ``data`` (tables, splits, I/O), ``files`` (path checks,
atomic writes, JSON), ``seeds`` (seed derivation), ``manifest`` (resumable jobs). Models and
sources register themselves by name (``flashgen.models.MODELS``, ``flashgen.sources.PROFILES``);
every list of them is derived from those registries.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .data import Column, EventTable, read_table, write_table
from .errors import FlashgenError

__all__ = ["Column", "EventTable", "FlashgenError", "__version__", "read_table", "write_table"]
