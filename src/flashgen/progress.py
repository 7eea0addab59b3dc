"""Progress bars that switch themselves off when nobody is watching."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress", "set_quiet"]

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence every progress bar of this process (``--quiet``)."""
    global _QUIET
    _QUIET = bool(quiet)


def progress(total: int | None = None, desc: str = "", unit: str = "it", quiet: bool = False,
             **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled by ``quiet``, by ``--quiet`` or when stderr is not a terminal."""
    disable = quiet or _QUIET or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True,
                unit_scale=True, leave=False, **kwargs)
