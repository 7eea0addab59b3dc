"""``flashgen simulate SOURCE``: write a reference table from one of the registered sources.

Each source's profile (:class:`flashgen.sources.registry.Profile`) adds its own subcommand
(``Profile.cli``); sources that write one table use
:func:`flashgen.sources.command.add_table_source`, which gives them the common options and the
atomic writing. What every source's output obeys is added here, once: ``--force``, without which
an existing table is never replaced, and a dataset folder whose run fails before it holds
anything a rerun can use is left as it was found.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    from ..sources import PROFILES, command

    parser = sub.add_parser("simulate", help="run a reference simulator and write its events",
                            description="Run a reference simulator (the slow or exact truth) and "
                            "write its events as a table. Energies and momenta in GeV, angles in rad.")
    srcs = parser.add_subparsers(dest="source", metavar="SOURCE", parser_class=type(parser))
    srcs.required = True
    for profile in PROFILES.values():
        if profile.cli is not None:
            profile.cli(srcs)
    for source in srcs.choices.values():
        run = source.get_default("func")
        table = getattr(run, "__module__", None) == command.__name__  # add_table_source: one table file
        source.add_argument("--force", action="store_true", help=(
            "replace an existing table at --out; a file of another kind (a model, JSON, ...) is "
            "never replaced (default: refuse it)" if table else
            "replace the dataset in --out: the files of the run there (shards, pileup library, "
            "manifest, nanoaod.root) are removed first and the dataset is simulated afresh "
            "(default: an unfinished run of the same command resumes, a finished one is left as "
            "it is, one with other settings is refused)"))
        source.set_defaults(func=functools.partial(_write_table if table else _write_folder, run))


def _write_table(run: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> Any:
    """A source that writes one table: an existing file is replaced only with --force."""
    from ..files import check_output_path

    check_output_path(args.out, overwrite=args.force)
    return run(args)


def _write_folder(run: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> Any:
    """A source that writes a dataset folder: --force clears the dataset there first; a run that
    fails before it wrote anything a rerun can use leaves no manifest or folder of its own."""
    from ..data import SIMULATED_DATASET_MANIFEST
    from ..files import undo_new_folder

    if args.force:
        _clear_dataset(Path(args.out), SIMULATED_DATASET_MANIFEST)
    with undo_new_folder(args.out, SIMULATED_DATASET_MANIFEST):
        return run(args)


def _clear_dataset(folder: Path, marker: str) -> None:
    """Remove the simulated dataset in ``folder`` (the folder holding ``marker``, its manifest):
    its tables (``*.parquet``, ``*.root``), its ``_`` files and folders (manifest, pileup
    library) and temporaries. A folder holding anything else, or no such dataset, is left to the
    source (which refuses a folder of another kind)."""
    from ..errors import FlashgenError
    from ..files import write_json

    if not (folder.is_dir() and (folder / marker).is_file()):
        return
    entries = list(folder.iterdir())
    ours = [p for p in entries if p.name.startswith("_") or (p.name.startswith(".") and p.name.endswith(".tmp"))
            or (p.is_file() and p.suffix.lower() in (".parquet", ".root"))]
    others = sorted(p.name for p in entries if p not in ours)
    if others:
        raise FlashgenError(f"{folder} holds {', '.join(others[:3])}{' ...' if len(others) > 3 else ''} "
                            "besides its dataset: --force replaces a dataset folder only when it holds "
                            "nothing else; move them or choose another --out")
    manifest = folder / marker
    with contextlib.suppress(OSError, ValueError):  # unfinished first: a kill on the way leaves a refused folder
        content = json.loads(manifest.read_text())
        if isinstance(content, dict) and content.get("complete") is not False:
            write_json({**content, "complete": False}, manifest)
    for path in sorted(ours, key=lambda p: p == manifest):  # the manifest last
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
