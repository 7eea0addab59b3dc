"""Argument types and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, NoReturn

__all__ = ["MAX_COUNT", "Parser", "add_common", "positive_int", "seed_int", "positive_float",
           "non_negative_float", "csv_list", "say", "warning"]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``flashgen: error: <message>``, exit 2."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog.replace("flashgen", "").strip()
        hint = f" (see 'flashgen {prog} --help')" if prog else " (see 'flashgen --help')"
        sys.stderr.write(f"flashgen: error: {message}{hint}\n")
        raise SystemExit(2)


MAX_COUNT = 2**53
"""Largest count a command accepts: beyond it a number written as ``1e16`` is not an exact
integer (and no machine holds that many events)."""


def positive_int(text: str) -> int:
    """An integer in [1, :data:`MAX_COUNT`] (accepts ``1e6`` and ``1_000_000``)."""
    cleaned = text.replace("_", "").strip()
    try:
        value = int(cleaned) if cleaned.lstrip("+-").isdigit() else float(cleaned)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; give a positive integer") from None
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive integer")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"'{text}' is too large: at most {MAX_COUNT:,} (2^53)")
    return int(value)


def seed_int(text: str) -> int:
    """A seed: an integer in [0, 2**63)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed '{text}' must be a non-negative integer") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"seed '{text}' must be a non-negative integer below 2**63")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' must be finite")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be positive")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be zero or positive")
    return value


def csv_list(text: str) -> list[str]:
    """``a,b,c`` -> ``["a", "b", "c"]`` (empty entries are an error)."""
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of names")
    return items


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every subcommand has."""
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bars and no summary (default: bars on a terminal)")


def warning(message: str) -> None:
    """One line ``flashgen: warning: ...`` on stderr (shown even with ``--quiet``)."""
    sys.stderr.write(f"flashgen: warning: {message}\n")
    sys.stderr.flush()


def say(args: Any, message: str) -> None:
    """Print a summary line to stdout unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, flush=True)


class Timer:
    """Wall-clock timer: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self._start
