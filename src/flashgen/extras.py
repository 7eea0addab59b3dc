"""Optional dependencies ("extras"): import them, or say in one line which extra to install.

The core of flashgen (toys, electron source, models, training, validation) needs only the
packages of ``pip install flashgen``. A component with heavier needs declares them as an extra
in ``pyproject.toml`` and imports them through :func:`require`, so that a missing package gives
``flashgen: error: <what> needs <package>, which is not installed: pip install
'flashgen[<extra>]'`` instead of a traceback, and only when that component runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from .errors import FlashgenError

__all__ = ["EXTRAS", "lazy_attributes", "require"]

EXTRAS: dict[str, str] = {
    "zmumu": "the Z→μμ simulator",
    "dask": "generation on Dask workers (--workers, --scheduler)",
}
"""What each extra of ``pyproject.toml`` is for, by extra name (the start of the message)."""


class _Deferred(ModuleType):
    """Stands for a module that failed to import: any attribute access raises the error."""

    def __init__(self, name: str, error: FlashgenError) -> None:
        super().__init__(name)
        self.__error = error

    def __getattr__(self, attr: str) -> Any:
        raise self.__error


def require(module: str, extra: str, *, deferred: bool = False) -> ModuleType:
    """``importlib.import_module(module)``, or a :class:`FlashgenError` naming ``extra``.

    Arguments:
        module: the module to import, e.g. ``"pythia8mc"`` or ``"dask.distributed"``.
        extra: the extra of ``pyproject.toml`` that installs it (a key of :data:`EXTRAS`).
        deferred: for a module-level import: instead of raising now, return a stand-in module
            whose first attribute access raises the error, so that importing the component
            (e.g. to register its command-line options) still works without the extra.

    Raises:
        FlashgenError: ``module`` (or a package it needs) is not installed, or fails to import.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        what = EXTRAS.get(extra, f"the '{extra}' feature")
        install = f"pip install 'flashgen[{extra}]'"
        if isinstance(err, ModuleNotFoundError) and err.name is not None and (
                module == err.name or module.startswith(err.name + ".")):
            message = f"{what} needs {module}, which is not installed: {install}"
        else:
            detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
            message = f"{what} needs {module}, which fails to import ({detail}): {install}"
        error = FlashgenError(message)
        if deferred:
            return _Deferred(module, error)
        raise error from None


def lazy_attributes(package: str, where: dict[str, str]) -> Any:
    """A module ``__getattr__`` for ``package`` that imports the submodule ``where[name]`` on the
    first use of ``name`` (so that importing the package stays light)."""

    def getattr_(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(f".{where[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return getattr_
