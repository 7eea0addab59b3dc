"""Writing outputs safely, written once: path checks, atomic writes, JSON.

Every output of flashgen (tables, model files, reports, run manifests, benchmark results) is
checked up front with :func:`check_output_path`, so no work is wasted on a path that cannot be
written, and written through :func:`atomic_path`: a hidden temporary file beside the target,
renamed onto it only once complete. :func:`plain` turns any result into plain JSON values
(the one conversion used by table metadata, model files, manifests and metrics) and
:func:`write_json` writes it atomically.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FlashgenError

__all__ = ["OUTPUT_KINDS", "TABLE_FORMATS", "AtomicStream", "atomic_path", "check_disk", "check_output_path",
           "file_digest", "output_kind", "plain", "read_json", "remove_temporaries", "undo_new_folder", "write_json"]

NAME_MAX = 255
"""Longest file name (bytes) of the usual Linux filesystems."""
PATH_MAX = 4096
"""Longest path (bytes) the Linux kernel accepts."""
_TEMP_EXTRA = len(".") + len(".") + 8 + len(".tmp")  # ".NAME." + mkstemp's 8 characters + ".tmp"


def _temp_stem(name: str) -> str:
    """The part of a temporary file's name that names its target: the target's name, or for a
    name too long to carry the temporary suffixes, its start and a digest of the whole."""
    if len(name.encode()) + _TEMP_EXTRA <= NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    keep = NAME_MAX - _TEMP_EXTRA - len(digest) - 1
    start = name.encode()[:keep].decode(errors="ignore")
    return f"{start}~{digest}"

TABLE_FORMATS: Mapping[str, str] = {".parquet": "parquet", ".pq": "parquet", ".root": "root"}
"""File suffixes of event tables and their formats."""

OUTPUT_KINDS: Mapping[str, str] = {"table": "an event table", "model": "a model file", "json": "a JSON file",
                                   "other": "a file flashgen does not write"}
"""The kinds of file an output can be (:func:`output_kind`), in words."""
_MAGIC = ((b"PAR1", "table"), (b"root", "table"), (b"PK\x03\x04", "model"), (b"\x80", "model"))
"""First bytes of Parquet and ROOT files, of torch.save's zip archive and of its older pickle."""


def output_kind(path: str | os.PathLike[str]) -> str | None:
    """What the existing file ``path`` holds, from its first bytes whatever its name: ``"table"``
    (Parquet or ROOT), ``"model"`` (a torch.save archive), ``"json"``, ``"empty"`` (no bytes),
    ``"other"``; ``"folder"`` for a folder, ``None`` when nothing is there."""
    p = Path(path)
    if p.is_dir():
        return "folder"
    try:
        with open(p, "rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        return None
    except OSError:
        return "other"
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "json" if head.lstrip()[:1] in (b"{", b"[") else "other"


def _kind_of(suffixes: Collection[str] | None) -> str | None:
    """The kind of output named by accepted ``suffixes`` (tables, JSON), or ``None``: unchecked."""
    if not suffixes:
        return None
    if all(s in TABLE_FORMATS for s in suffixes):
        return "table"
    return "json" if set(suffixes) == {".json"} else None


def check_output_path(path: str | os.PathLike[str], *, directory: bool = False,
                      overwrite: bool = True,
                      suffixes: Collection[str] | None = TABLE_FORMATS,
                      inputs: Iterable[str | os.PathLike[str] | None] = (),
                      kind: str | None = None) -> Path:
    """Check up front that ``path`` can be written, so that no work is wasted and no input is lost.

    Arguments:
        path: target file or, with ``directory=True``, target folder (created later by the
            caller; its parent must exist).
        directory: whether the output is a folder (a Parquet dataset, a report, a run).
        overwrite: whether an existing file may be replaced (``False``: refused with "pass
            --force to replace it", what a command's ``--force`` turns on).
        suffixes: accepted file suffixes (default: event tables, ``.parquet`` or ``.root``;
            ``None``: any name).
        inputs: the command's input files or folders (``None`` entries are ignored): an output
            that is one of them (the same path after resolving links) is refused.
        kind: what the output is, a key of :data:`OUTPUT_KINDS` (default: ``"table"`` for the
            table suffixes, ``"json"`` for ``.json``, else unchecked). An existing file of
            another kind (:func:`output_kind`, from its bytes, whatever its name) is never
            replaced, whatever ``overwrite`` says; an empty one holds nothing to lose.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FlashgenError: a folder where a file is expected (or the reverse), an unknown suffix,
            an existing file of another kind, an existing file with ``overwrite=False``, a
            missing or unwritable parent folder, an output that would replace an input.
    """
    p = Path(path)
    if len(p.name.encode()) > NAME_MAX:
        raise FlashgenError(f"the output name {p.name[:40]}... is {len(p.name.encode()):,} bytes long; the "
                            f"filesystem allows {NAME_MAX}: choose a shorter name")
    if len(str(p.absolute()).encode()) >= PATH_MAX:
        raise FlashgenError(f"the output path {str(p)[:40]}... is {len(str(p.absolute()).encode()):,} bytes "
                            f"long; the system allows {PATH_MAX - 1}: choose a shorter path")
    _refuse_inputs(p, inputs)
    if directory:
        if p.exists() and not p.is_dir():
            raise FlashgenError(f"{p} exists and is not a directory; give a folder for this output")
        parent = p if p.exists() else p.parent
    else:
        example = "events.parquet" if suffixes is TABLE_FORMATS else (
            f"out{next(iter(suffixes))}" if suffixes else "out.pt")
        if p.is_dir():
            raise FlashgenError(f"{p} is a directory; give a file name such as {p / example}")
        if suffixes is not None and p.suffix.lower() not in suffixes:
            known = " or ".join(dict.fromkeys(s for s in suffixes if s != ".pq"))
            if suffixes is TABLE_FORMATS:
                raise FlashgenError(f"{p}: unknown table format '{p.suffix}'; use {known}")
            raise FlashgenError(f"{p} must end in {known}")
        if p.exists():
            _check_replace(p, kind or _kind_of(suffixes), overwrite)
        parent = p.parent
    parent = parent if str(parent) else Path(".")
    if not parent.exists():
        raise FlashgenError(f"folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise FlashgenError(f"cannot write into {parent}: it is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FlashgenError(f"cannot write to {parent}: permission denied")
    try:  # what the file system really allows (root passes os.access; /proc, full or read-only disks do not)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise FlashgenError(f"cannot write {p}: {err.strerror or err}") from None
    return p


def _check_replace(p: Path, kind: str | None, overwrite: bool) -> None:
    """Refuse to replace the existing file ``p`` by an output of ``kind`` when it holds another
    kind of file (always) or when ``overwrite`` is false."""
    found = output_kind(p)
    if kind is not None and found not in (kind, "empty"):
        what = OUTPUT_KINDS.get(found or "other", OUTPUT_KINDS["other"])
        raise FlashgenError(f"{p} is {what}, not {OUTPUT_KINDS[kind]}: it is never replaced (not even "
                            "with --force); choose another name")
    if not overwrite:
        raise FlashgenError(f"{p} exists; pass --force to replace it")


def _refuse_inputs(output: Path, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    """An output that is an input would destroy it (a folder output beside its inputs is fine:
    it only adds files of its own)."""
    target = output.resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item).resolve()
        if target == source:
            raise FlashgenError(f"the output {output} would overwrite the input {item}; choose "
                                "another output name")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file is hidden (``.NAME.*.tmp``) and removed if the block raises (also on
    SIGTERM: the command line turns it into an exception). Temporary files of the same target
    left by a hard kill (SIGKILL, power loss) are removed when the next write of it starts.
    """
    target = Path(path)
    remove_temporaries(target.parent if str(target.parent) else ".", target.name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{_temp_stem(target.name)}.", suffix=".tmp", dir=target.parent or ".")
    except OSError as err:
        raise FlashgenError(f"cannot write {target}: {err.strerror or err}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class AtomicStream(ABC):
    """Base of writers that stream chunks into one file that appears only when complete.

    Use as a context manager. Subclasses set ``self.path`` and implement :meth:`write`,
    :meth:`_started` (whether a chunk was received), :meth:`_empty_chunk` (written when no
    chunk came, so the file is still valid) and :meth:`_close`, and may override
    :meth:`_finish` (write what they still hold, on success only); they write to ``self._tmp``.
    A failure anywhere, finishing included, removes the temporary file.
    """

    path: Path
    _tmp: Path
    _ctx: contextlib.AbstractContextManager[Path] | None = None

    @abstractmethod
    def write(self, chunk: Any) -> None:
        """Append one chunk."""

    @abstractmethod
    def _started(self) -> bool:
        """Whether a chunk was received."""

    @abstractmethod
    def _empty_chunk(self) -> Any:
        """A chunk of no rows that still defines the file's schema."""

    @abstractmethod
    def _close(self) -> None:
        """Close the temporary file (also after a failure)."""

    def _finish(self) -> None:
        """Write what is still held before the file is closed (after success only)."""

    def __enter__(self) -> Any:
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._ctx is not None
        try:
            try:
                if exc_type is None:
                    if not self._started():
                        self.write(self._empty_chunk())
                    self._finish()
            finally:
                self._close()
        except BaseException:
            # Finishing the file failed: drop the temporary file, never rename it onto the target.
            self._ctx.__exit__(*sys.exc_info())
            raise
        self._ctx.__exit__(exc_type, exc, tb)


def remove_temporaries(folder: str | os.PathLike[str], name: str | None = None) -> int:
    """Delete the hidden temporary files and folders (``.*.tmp``) that a killed write left in
    ``folder`` (only those of the output ``name`` when given); returns how many were removed."""
    removed = 0
    root = Path(folder)
    if root.is_dir():
        for tmp in root.glob(f".{glob.escape(_temp_stem(name))}.*.tmp" if name else ".*.tmp"):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def undo_new_folder(folder: str | os.PathLike[str], marker: str) -> Iterator[None]:
    """Run a block that starts (or resumes) a sharded output in ``folder`` whose manifest is the
    file ``marker`` in it. If the block fails (an exception, Ctrl-C, SIGTERM) after writing the
    manifest but nothing else a rerun can use, what it added (the manifest, empty folders,
    temporaries) is removed, and ``folder`` too if the block created it. What was there before
    stays: the user's folder, a resumed run's manifest, a finished shard, a pileup library."""
    root = Path(folder)
    existed = root.is_dir()
    before = {p.name for p in root.iterdir()} if existed else set()
    try:
        yield
    except BaseException:
        if marker not in before and (root / marker).is_file():
            _remove_lone_marker(root, before, marker, keep_folder=existed)
        raise


def _remove_lone_marker(root: Path, before: set[str], marker: str, *, keep_folder: bool) -> None:
    """Remove what was added to ``root`` if it is only ``marker``, temporaries and empty folders."""
    remove_temporaries(root)
    added = [p for p in root.iterdir() if p.name not in before]
    if any(p.name != marker and not (p.is_dir() and not p.is_symlink() and not any(p.iterdir()))
           for p in added):
        return
    for entry in added:
        if entry.is_dir():
            entry.rmdir()
        else:
            entry.unlink()
    if not keep_folder and not any(root.iterdir()):
        root.rmdir()


def file_digest(path: str | os.PathLike[str]) -> str:
    """First 16 hex digits of the SHA-256 of a file's bytes, or of a folder's visible files (names
    and bytes, in name order): identifies a model or input table in a resumable job's manifest."""
    p = Path(path)
    files = ([f for f in sorted(p.iterdir()) if f.is_file() and not f.name.startswith((".", "_"))]
             if p.is_dir() else [p])
    digest = hashlib.sha256()
    for file in files:
        if p.is_dir():
            digest.update(file.name.encode())
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def plain(obj: Any, *, strict: bool = False) -> Any:
    """``obj`` as plain JSON values.

    Mappings become dicts with string keys, tuples, lists and arrays become lists, numpy scalars
    Python numbers, paths strings, and non-finite floats (NaN, ±inf) ``None``. Any other object
    becomes its ``str``, or raises ``TypeError`` with ``strict=True``.
    """
    if isinstance(obj, Mapping):
        return {str(k): plain(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, strict=strict) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist(), strict=strict)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if strict:
        raise TypeError(f"cannot store {type(obj).__name__} as JSON")
    return str(obj)


def write_json(obj: Any, path: str | os.PathLike[str], *, indent: int | None = 2) -> Path:
    """Write :func:`plain` ``obj`` as JSON to ``path`` atomically; returns the path."""
    target = check_output_path(path, suffixes=None, kind="json")
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(plain(obj), indent=indent, allow_nan=False) + "\n")
    return target


def read_json(path: str | os.PathLike[str], *, what: str = "file") -> Any:
    """The JSON content of ``path``; a clear error naming ``what`` if it is unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise FlashgenError(f"{what} {path} is unreadable ({type(err).__name__})") from None


def check_disk(out: str | os.PathLike[str], events: int, columns: int, bytes_per_value: int) -> None:
    """Refuse up front a request whose output cannot fit on the disk (the uncompressed size:
    compression saves ~10-40 % on generated values, so this is an upper bound by that margin)."""
    folder = Path(out).parent if str(Path(out).parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    need = events * columns * bytes_per_value
    free = shutil.disk_usage(folder).free
    if need > free:
        raise FlashgenError(f"{events:,} events of {columns} columns need about {need / 1e9:,.1f} GB "
                            f"but {folder} has {free / 1e9:,.1f} GB free; ask for fewer events "
                            f"(at most ~{free // (columns * bytes_per_value):,}) or write elsewhere")
