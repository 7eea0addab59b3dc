"""flashgen: fast generative surrogates for particle-physics simulation, with honest statistics.

Data flows one way: ``sources`` write event tables, ``transforms`` + ``models`` are fitted to a
table by ``training`` and saved as one model file, ``generation`` samples it into a new table,
``validation`` compares two tables and ``stats`` says what a generated sample is worth.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .data import Column, EventTable, read_table, write_table
from .errors import FlashgenError

__all__ = ["Column", "EventTable", "FlashgenError", "__version__", "read_table", "write_table"]
