"""Run manifests: a folder that holds a long job records the settings that define its outputs,
so that a rerun resumes it and a rerun with other settings is refused (or, forced, redone).

One implementation serves every resumable job: the Z→μμ production folder, ``flashgen run``,
bootstrap ensembles and the trainer's checkpoints (:func:`differences` and
:func:`refuse_changes` compare their fingerprints).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import FlashgenError
from .files import atomic_path, check_output_path, plain

__all__ = ["Manifest", "differences", "refuse_changes"]


def differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose value differs between ``stored`` and ``new`` (compared as plain JSON values),
    in the order of ``new`` then the keys only ``stored`` has."""
    old, now = plain(dict(stored)), plain(dict(new))
    keys = list(now) + [k for k in old if k not in now]
    return [k for k in keys if old.get(k) != now.get(k)]


def _describe(stored: Mapping[str, Any], new: Mapping[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k}={stored.get(k)!r} (now {new.get(k)!r})" for k in keys)


def refuse_changes(stored: Mapping[str, Any], new: Mapping[str, Any], where: str, hint: str) -> None:
    """Raise one clear error when ``new`` settings differ from those ``stored`` at ``where``.

    Arguments:
        stored, new: the settings (plain values).
        where: what is refused, e.g. ``"cannot resume from x.ckpt: it was made with other
            settings"``; the differing values follow in parentheses.
        hint: what the user can do, appended after ``;``.
    """
    changed = differences(stored, new)
    if changed:
        raise FlashgenError(f"{where} ({_describe(stored, new, changed)}); {hint}")


@dataclass
class Manifest:
    """The JSON file ``folder/name`` of a resumable job: ``settings`` (what defines the
    outputs) and free ``state`` entries the job records as it goes.

    Open one with :meth:`open`; :meth:`save` rewrites it atomically.
    """

    path: Path
    settings: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False
    changed: list[str] = field(default_factory=list)
    previous: dict[str, Any] = field(default_factory=dict)

    def describe_changes(self) -> str:
        """The settings changed since the stored run, e.g. ``"factor=2.0 (now 3.0)"``."""
        return _describe(self.previous, self.settings, self.changed)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @classmethod
    def open(cls, folder: str | os.PathLike[str], name: str, settings: Mapping[str, Any], *,
             what: str, force: bool = False, allow_foreign: bool = False,
             hint: str = "rerun with the same settings to resume it, or choose another folder"
             ) -> Manifest:
        """Create ``folder`` with a new manifest, or open the one there.

        Arguments:
            folder: the job's folder (created; its parent must exist).
            name: the manifest's file name inside it.
            settings: the settings that define the job's outputs (plain values).
            what: the job, in words (e.g. ``"flashgen run"``), for error messages.
            force: accept changed settings: the manifest takes the new ones and lists the
                changed keys in :attr:`changed` (the caller redoes what they affect).
            allow_foreign: accept a non-empty folder without a manifest (the job's files may
                live beside other files).
            hint: what the user can do about changed settings (error message).

        Raises:
            FlashgenError: the folder is a file, is not empty and holds no manifest (unless
                ``allow_foreign``), holds an unreadable manifest, or one with other settings
                (unless ``force``).
        """
        out = check_output_path(folder, directory=True)
        path = out / name
        new = plain(dict(settings))
        if not path.exists():
            if out.exists() and any(out.iterdir()) and not allow_foreign:
                raise FlashgenError(f"{out} is not empty and holds no {what} ({name}); choose a "
                                    "new or empty folder")
            out.mkdir(exist_ok=True)
            manifest = cls(path, new, {"flashgen_version": __version__,
                                       "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            manifest.save()
            return manifest
        try:
            content = json.loads(path.read_text())
            stored = content.pop("settings")
            if not isinstance(stored, dict):
                raise ValueError("settings")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise FlashgenError(f"{path} is unreadable; remove {out} (or choose another folder) "
                                "and start again") from None
        changed = differences(stored, new)
        if not force:
            refuse_changes(stored, new, f"{out} holds a {what} with other settings", hint)
        return cls(path, new, content, resumed=True, changed=changed, previous=stored)

    def save(self) -> None:
        """Rewrite the manifest atomically (settings first, then the state)."""
        self.state["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        content = {"settings": self.settings, **plain(self.state)}
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(content, indent=2) + "\n")
