"""The main job end to end (``flashgen run``): simulate, split, train, generate, validate.

The stages are generic; what belongs to the reference source (how to simulate it, its training
preset, the observable whose worth the summary states) is the source's
:class:`~flashgen.sources.registry.ReferenceJob` (``Profile.job``; the default source is
``zmumu``, :mod:`flashgen.sources.zmumu.reference_job`).

Every stage writes its output inside one run folder ``DIR`` and is skipped when that output
already exists, is valid and is newer than its inputs, so an interrupted job continues where it
stopped::

    DIR/run.json                    settings, per-stage timings and the summary
    DIR/reference/                  1. the source's reference (Z→μμ with pileup: sharded, resumes)
    DIR/reference-train.parquet     2. the reference split by a seeded permutation: training part
    DIR/reference-heldout.parquet      and held-out part (never trained on, used for validation)
    DIR/model.pt                    3. trained model: an ensemble by default (members train in
                                       DIR/model.pt.members/; a single model's checkpoint is
                                       DIR/.model.pt.ckpt), resumed where it stopped
    DIR/generated.parquet           4. ``factor`` x the selected reference events, generated
    DIR/validation/                 5. report.html, metrics.json and figures: held-out vs generated

Speed-up. The cost of one analysis-level event of the reference is the simulation wall time
(PYTHIA8 hard process, pileup library and overlay, detector, jets, selection; PYTHIA and Dask
start-up included) divided by the number of *selected* events; the generator's cost is the
generation wall time to Parquet divided by the generated events. Their ratio is the speed-up per
analysis-level event; the ratio per generated (not selected) reference event is also reported.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FlashgenError
from .manifest import Manifest
from .seeds import check_seed, derive_seed

__all__ = ["DEFAULT_EVENTS", "DEFAULT_FACTOR", "RUN_FILE", "STAGES", "RunSettings", "run_pipeline", "stage_label",
           "stage_seed"]

RUN_FILE = "run.json"
DEFAULT_EVENTS = 20_000
"""Generated Z→μμ events of the default job (about 37 % are selected)."""
DEFAULT_FACTOR = 100.0
DEFAULT_HOLDOUT = 0.25
DEFAULT_VALIDATION_EVENTS = 100_000
DEFAULT_ENSEMBLE = 8
"""Members of the job's model: 4 bootstrap resamples x 2 seeds, so that the generated sample
states what it is worth (:mod:`flashgen.stats.histogram_worth`). 8 members of 3,000 steps each train in
about the time budget of the job on 2 cores (2 members at once, one thread each)."""
DEFAULT_MEMBER_STEPS = 3000
"""Training steps of each ensemble member when ``steps`` is not given (the single flow of the
zmumu preset ran 5,000 and kept its snapshot of step 3,000)."""
DEFAULT_SOURCE = "zmumu"
"""The reference source of the default job."""
STAGES = ("simulate", "split", "train", "generate", "validate")

REFERENCE = "reference"
TRAIN_SPLIT = "reference-train.parquet"
HELDOUT_SPLIT = "reference-heldout.parquet"
MODEL = "model.pt"
CHECKPOINT = ".model.pt.ckpt"
GENERATED = "generated.parquet"
VALIDATION = "validation"
OUTPUTS = {"simulate": [REFERENCE], "split": [TRAIN_SPLIT, HELDOUT_SPLIT],
           "train": [MODEL, CHECKPOINT, MODEL + ".members"], "generate": [GENERATED], "validate": [VALIDATION]}


@dataclass(frozen=True)
class RunSettings:
    """Settings of the job; all but ``workers`` define its outputs.

    Arguments:
        events: generated reference events (Z→μμ: hard processes; about 37 % are selected).
        seed: seeds the simulation, the split, the training and the generation.
        model: a registered model family (:data:`flashgen.models.MODELS`), trained with the
            source's preset.
        factor: generated events per selected reference event.
        steps: training steps (``None``: the preset's).
        pileup: mean number of pileup interactions per event (Z→μμ).
        library_events: minimum-bias events in the pileup library (Z→μμ).
        holdout: fraction of the selected reference events held out for validation.
        validation_events: at most this many events of each table enter the validation
            (a seeded subsample of the generated events; the held-out split is smaller).
        ensemble: members of the model (pairs per bootstrap resample, :data:`DEFAULT_ENSEMBLE`),
            or 1 for a single model (no statement of worth).
        workers: simulation worker processes and parallel member trainings (does not change
            any output).
        source: the registered source whose reference the job simulates (its profile has a
            :class:`~flashgen.sources.registry.ReferenceJob`).
    """

    events: int = DEFAULT_EVENTS
    seed: int = 0
    model: str = "flow"  # flashgen.models.DEFAULT_MODEL (not imported here: it loads torch)
    factor: float = DEFAULT_FACTOR
    steps: int | None = None
    pileup: float = 20.0
    library_events: int = 5000
    holdout: float = DEFAULT_HOLDOUT
    validation_events: int = DEFAULT_VALIDATION_EVENTS
    ensemble: int = DEFAULT_ENSEMBLE
    workers: int = 2
    source: str = DEFAULT_SOURCE
    data: str | None = None
    features: tuple[str, ...] | None = None
    conditions: tuple[str, ...] | None = None
    collections: str | None = None

    def __post_init__(self) -> None:
        from .models import get_model

        if self.data is None:
            self.reference  # a clear error for a source without a part in the job
            if (self.features, self.conditions, self.collections) != (None, None, None):
                raise FlashgenError("features, conditions and collections choose the columns of your own "
                                    "table: give the table (data) too")
        else:
            self._check_data()

        for name in ("events", "library_events", "validation_events", "workers", "ensemble"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise FlashgenError(f"{name} must be a positive integer, got {value!r}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise FlashgenError(f"steps must be a positive integer, got {self.steps!r}")
        if self.ensemble in (2, 3):
            raise FlashgenError(f"an ensemble needs at least 4 members (2 resamples x 2 seeds), got "
                                f"{self.ensemble}; use 1 for a single model")
        check_seed(self.seed)
        get_model(self.model)  # a clear error naming the registered families
        if not (math.isfinite(self.factor) and self.factor > 0):
            raise FlashgenError(f"factor must be a positive number, got {self.factor!r}")
        if not 0 < self.holdout < 1:
            raise FlashgenError(f"the held-out fraction must be in (0, 1), got {self.holdout!r}")
        if not (math.isfinite(self.pileup) and self.pileup >= 0):
            raise FlashgenError(f"pileup must be a number >= 0, got {self.pileup!r}")

    def _check_data(self) -> None:
        from .collections import Collections

        if not isinstance(self.data, str) or not self.data:
            raise FlashgenError(f"data must be the path of a table, got {self.data!r}")
        for name in ("features", "conditions"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, tuple) or not value
                                      or not all(isinstance(c, str) and c for c in value)):
                raise FlashgenError(f"{name} must be a non-empty tuple of column names, got {value!r}")
        if self.collections is not None:
            object.__setattr__(self, "collections", str(Collections.parse(self.collections)))

    @property
    def preset(self) -> str | None:
        """The training preset: the source's, or none for your own table (automatic
        preprocessing, :mod:`flashgen.transforms.auto`)."""
        return None if self.data is not None else self.reference.preset

    @property
    def reference(self) -> Any:
        """The source's :class:`~flashgen.sources.registry.ReferenceJob`."""
        from .sources import PROFILES

        profile = PROFILES.get(self.source)
        if profile is None or profile.job is None:
            able = ", ".join(n for n, p in PROFILES.items() if p.job is not None)
            raise FlashgenError(f"source '{self.source}' has no reference for the main job; choose from {able}")
        return profile.job

    def options(self) -> dict[str, Any]:
        """The settings the source's simulation reads."""
        return {name: getattr(self, name) for name in self.reference.options}

    def identity(self) -> dict[str, Any]:
        """The settings that define the outputs: everything but ``workers``; a job on a source
        leaves out the table's settings, a job on your own table the simulation's."""
        skip = {"workers", *(_SIMULATION if self.data is not None else _TABLE)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


_TABLE = ("data", "features", "conditions", "collections")
"""Settings of a job on your own table (:attr:`RunSettings.data`)."""
_SIMULATION = ("events", "pileup", "library_events", "source")
"""Settings of a job that simulates its reference."""


DEPENDS: dict[str, tuple[str, ...]] = {
    "simulate": ("events", "seed", "pileup", "library_events", "source", "data", "collections"),
    "split": ("holdout",),
    "train": ("model", "steps", "ensemble", "features", "conditions"),
    "generate": ("factor",),
    "validate": ("validation_events",),
}
"""Settings each stage reads besides the outputs of the stages before it."""


def stage_seed(seed: int, stage: str) -> int:
    """Independent 63-bit seed of ``stage`` derived from the run seed (the simulation uses
    ``seed`` itself, so that ``flashgen simulate zmumu --seed`` reproduces the reference)."""
    return seed if stage == "simulate" else derive_seed(seed, STAGES.index(stage))


# ------------------------------------------------------------------------------- the run manifest


def _remove_outputs(out: Path, stages: list[str]) -> None:
    for stage in stages:
        for name in OUTPUTS[stage]:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def _open_run(out: Path, settings: RunSettings, force: bool,
              log: Callable[[str], None]) -> Manifest:
    """Check that ``out`` can take this job; return its manifest (new, resumed or forced)."""
    run = Manifest.open(out, RUN_FILE, settings.identity(), what="flashgen run", force=force,
                        hint="rerun with the same options to resume it, add --force to redo the "
                        "stages they affect, or choose another --out")
    run.state.setdefault("stages", {})
    if run.changed:
        first = min(i for i, s in enumerate(STAGES)
                    if any(k in run.changed for k in sum((DEPENDS[t] for t in STAGES[:i + 1]), ())))
        redo = list(STAGES[first:])
        _remove_outputs(out, redo)
        for stage in redo:
            run.state["stages"].pop(stage, None)
        run.state.pop("summary", None)
        log(f"--force: settings changed ({run.describe_changes()}); redoing {', '.join(redo)}")
    run.state["workers"] = settings.workers
    run.save()
    return run


# ------------------------------------------------------------------------------- validity checks


def _rows(path: Path) -> int | None:
    """Rows of a Parquet file from its footer, or ``None`` if it is missing or unreadable."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # noqa: BLE001 - any failure means "not a valid output"
        return None


def _mtime(path: Path) -> float:
    if path.is_dir():
        times = [p.stat().st_mtime for p in path.glob("*.parquet")]
        return max(times, default=path.stat().st_mtime)
    return path.stat().st_mtime


def _stamp(path: Path) -> list[float]:
    """Size and modification time of your own table (a folder: of its newest shard): whether
    it changed since it was read."""
    if not path.exists():
        raise FlashgenError(f"{path} does not exist")
    return [path.stat().st_size if path.is_file() else len(list(path.glob("*.parquet"))), _mtime(path)]


def stage_label(stage: str, own_table: bool) -> str:
    """A stage's name in the job's lines and summary: stage 1 of a job on your own table reads it."""
    return "read" if stage == "simulate" and own_table else stage


def _newer(output: Path, *inputs: Path) -> bool:
    return output.exists() and all(_mtime(output) >= _mtime(i) for i in inputs if i.exists())


# ------------------------------------------------------------------------------- the stages


class _Job:
    """One invocation of the job on ``out``."""

    def __init__(self, out: Path, settings: RunSettings, run: Manifest, quiet: bool,
                 log: Callable[[str], None]) -> None:
        self.out, self.settings, self.run, self.quiet, self.log = out, settings, run, quiet, log
        self.state = run.state
        self.skipped: list[str] = []
        self.timings: dict[str, float | None] = {}

    def stage(self, index: int, name: str, what: str, done: bool, work: Callable[[], dict[str, Any]],
              reason: str = "") -> None:
        prefix = f"[{index}/{len(STAGES)}] {stage_label(name, self.settings.data is not None)}"
        if done:
            self.skipped.append(name)
            self.timings[name] = None
            self.log(f"{prefix}: skipped ({reason or 'already done'})")
            return
        self.log(f"{prefix}: {what}")
        start = time.perf_counter()
        info = work()
        seconds = time.perf_counter() - start
        resumed = name == "simulate" and self.settings.data is None  # a simulation adds up its parts
        record = self.state["stages"].get(name, {}) if resumed else {}
        record.update(info)
        record["seconds"] = record.get("seconds", 0.0) + seconds if resumed else seconds
        record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.state["stages"][name] = record
        self.timings[name] = seconds
        self.run.save()
        self.log(f"{prefix}: done in {seconds:.1f} s")

    # --- 1. simulate (or read your own table)
    @property
    def reference_path(self) -> Path:
        """The reference the job splits: the simulated folder, or your own table."""
        return Path(self.settings.data) if self.settings.data is not None else self.out / REFERENCE

    def read_reference(self) -> Any:
        from .data import read_table

        return read_table(self.reference_path, collections=self.settings.collections)

    def simulate(self) -> None:
        s = self.settings
        if s.data is not None:
            self.read()
            return
        ref = s.reference
        folder = self.out / REFERENCE
        complete = "simulate" in self.state["stages"] and ref.complete(folder, s.events)

        def work() -> dict[str, Any]:
            r = ref.simulate(s.events, stage_seed(s.seed, "simulate"), folder, s.options(), s.workers,
                             self.quiet)
            old = self.state["stages"].get("simulate", {})
            new_events = int(round(r["events_per_second"] * r["seconds"]))
            return {"events_generated": r["events_generated"], "events_selected": r["events_selected"],
                    "selection_efficiency": r["selection_efficiency"], "shards": r["shards"],
                    "timed_events": old.get("timed_events", 0) + new_events,
                    "library_seconds": old.get("library_seconds", 0.0) + r["library_seconds"],
                    "workers": s.workers}

        self.stage(1, "simulate", f"{ref.describe(s.events, s.options())} on "
                   f"{s.workers} worker(s) -> {folder}", complete, work, f"{folder} is complete")

    def read(self) -> None:
        """Stage 1 of a job on your own table: read it (flattening its collections), check the
        columns it is asked to learn, and record its rows."""
        s = self.settings
        path = Path(s.data)
        stamp = _stamp(path)
        done = self.state["stages"].get("simulate", {}).get("data_stamp") == stamp

        def work() -> dict[str, Any]:
            from .training.fit import Columns, resolve_columns

            table = self.read_reference()
            cols = resolve_columns(table, None, Columns(s.features, s.conditions))
            n = len(table)
            return {"events_generated": n, "events_selected": n, "selection_efficiency": 1.0, "shards": 1,
                    "timed_events": 0, "library_seconds": 0.0, "workers": s.workers, "data_stamp": stamp,
                    "features": list(cols.features), "conditions": list(cols.conditions)}

        self.stage(1, "simulate", f"{path}" + (f" (collections {s.collections})" if s.collections else ""),
                   done, work, f"{path} is unchanged")

    # --- 2. split
    def split(self) -> None:
        s = self.settings
        sim = self.state["stages"]["simulate"]
        n = sim["events_selected"]
        n_held = int(round(s.holdout * n))
        train_path, held_path = self.out / TRAIN_SPLIT, self.out / HELDOUT_SPLIT
        reference = self.reference_path
        done = (_rows(train_path) == n - n_held and _rows(held_path) == n_held
                and _newer(train_path, reference) and _newer(held_path, reference))

        def work() -> dict[str, Any]:
            from .data import split_rows, write_table

            if n_held < 2 or n - n_held < 2:
                raise FlashgenError(f"only {n} {'rows' if s.data else 'selected reference events'}: too few "
                                    "to split into training and held-out parts; "
                                    + ("give a larger table" if s.data else "ask for more --events"))
            table = self.read_reference()
            if len(table) != n:
                raise FlashgenError(f"{reference} holds {len(table)} events, {RUN_FILE} says {n}; "
                                    f"remove {self.out} and start again")
            train, held = split_rows(n, s.holdout, np.random.default_rng(stage_seed(s.seed, "split")))
            for rows, path, part in ((train, train_path, "train"), (held, held_path, "held-out")):
                t = table.take(rows)
                t.meta = {**{k: v for k, v in table.meta.items() if k not in ("source", "shards")},
                          "split": {"part": part, "fraction": len(rows) / n, "seed": s.seed}}
                write_table(t, path)
            return {"train_events": int(len(train)), "heldout_events": int(len(held))}

        self.stage(2, "split", f"{n:,} {'rows' if s.data else 'selected events'} -> {n - n_held:,} for training, {n_held:,} "
                   f"held out (seeded permutation)", done, work, "both parts exist")

    # --- 3. train
    def train(self) -> None:
        s = self.settings
        model_path, ckpt = self.out / MODEL, self.out / CHECKPOINT
        done = _newer(model_path, self.out / TRAIN_SPLIT) and self._loads(model_path)
        resume = ckpt.exists()

        def work() -> dict[str, Any]:
            from .data import read_table

            table = read_table(self.out / TRAIN_SPLIT)
            if s.ensemble > 1:
                return self._train_ensemble(table, model_path)
            from .training import Checkpoint, TrainSettings, train

            model = train(table, s.model, columns=self.columns(), preset=s.preset, settings=TrainSettings(
                steps=s.steps, seed=stage_seed(s.seed, "train"), quiet=self.quiet),
                checkpoint=Checkpoint(ckpt, resume=True))
            model.save(model_path)
            ckpt.unlink(missing_ok=True)
            r = model.info["result"]
            return {"model": s.model, "steps": r["steps"], "best_step": r["best_step"],
                    "best_score": r["best_score"], "samples_per_second": r["samples_per_second"],
                    "trainer_seconds": r["seconds"], "members": 1,
                    "train_events": model.info["train_events"], "val_events": model.info["val_events"],
                    "parameters": model.n_parameters(), "file_mb": model_path.stat().st_size / 1e6}

        preset = f"{s.preset} preset" if s.preset else "automatic preprocessing"
        what = f"{s.model} ({preset}) on {self.out / TRAIN_SPLIT}"
        if s.ensemble > 1:
            what = (f"ensemble of {s.ensemble} {s.model} models ({preset}, {s.ensemble // 2} bootstrap "
                    f"resamples x 2 seeds, {s.workers} at once) on {self.out / TRAIN_SPLIT}")
        self.stage(3, "train", what + (f", resuming from {ckpt}" if resume else ""), done, work,
                   f"{model_path} exists")

    def _train_ensemble(self, table: Any, model_path: Path) -> dict[str, Any]:
        from .training import TrainSettings
        from .training.bootstrap import Workers, train_ensemble

        s = self.settings
        steps = s.steps or DEFAULT_MEMBER_STEPS
        start = time.perf_counter()
        ens = train_ensemble(table, s.ensemble, s.model, out=model_path, columns=self.columns(), preset=s.preset,
                             settings=TrainSettings(steps=steps, seed=stage_seed(s.seed, "train"), quiet=self.quiet),
                             workers=Workers(s.workers))
        results = [m.info["result"] for m in ens.members]
        return {"model": s.model, "members": len(ens), "steps": steps,
                "best_step": int(np.median([r["best_step"] for r in results])),
                "best_score": float(np.median([r["best_score"] for r in results if r["best_score"] is not None]
                                              or [np.nan])),
                "samples_per_second": float(sum(r["samples_per_second"] for r in results)) / max(s.workers, 1),
                "trainer_seconds": time.perf_counter() - start,
                "train_events": len(table), "val_events": int(np.mean([m.info["val_events"] for m in ens.members])),
                "parameters": ens.n_parameters(), "file_mb": model_path.stat().st_size / 1e6}

    def columns(self) -> Any:
        """What the model learns: the preset's (``None``), or the columns the read stage
        resolved on your own table."""
        from .training.fit import Columns

        if self.settings.data is None:
            return None
        read = self.state["stages"]["simulate"]
        return Columns(read["features"], read["conditions"])

    def _loads(self, path: Path) -> bool:
        from .models import load_model

        try:
            load_model(path)
        except FlashgenError:
            return False
        return True

    # --- 4. generate
    def n_generate(self) -> int:
        return int(math.ceil(self.settings.factor * self.state["stages"]["simulate"]["events_selected"]))

    def generate(self) -> None:
        s = self.settings
        n = self.n_generate()
        path, model_path = self.out / GENERATED, self.out / MODEL
        done = _rows(path) == n and _newer(path, model_path)

        def work() -> dict[str, Any]:
            from .data import read_table
            from .generation import DEFAULT_CHUNK, Sampling, generate
            from .models import load_model

            model = load_model(model_path)
            conditions = None
            if model.condition_names:  # the held-out rows' conditions, cycled: their distribution
                held = read_table(self.out / HELDOUT_SPLIT, model.condition_names)
                conditions = held.take(np.arange(n) % len(held))
            r = generate(model, path, 0 if conditions is not None else n, conditions=conditions,
                         sampling=Sampling(stage_seed(s.seed, "generate"), DEFAULT_CHUNK), quiet=self.quiet)
            return {"events": r.events, "chunk_size": DEFAULT_CHUNK, "generation_seconds": r.seconds,
                    "events_per_second": r.events_per_second,
                    "file_mb": path.stat().st_size / 1e6}

        self.stage(4, "generate", f"{n:,} events ({s.factor:g} x the {'table' if s.data else 'selected reference'})"
                   f" -> {path}",
                   done, work, f"{path} holds {n:,} events")

    # --- 5. validate
    def validate(self) -> None:
        s = self.settings
        folder = self.out / VALIDATION
        metrics = folder / "metrics.json"
        held, gen = self.out / HELDOUT_SPLIT, self.out / GENERATED
        done = (_newer(metrics, held, gen) and (folder / "report.html").exists()
                and self._metrics() is not None)

        def work() -> dict[str, Any]:
            from .data import read_table
            from .validation import ValidationSettings, validate

            generated = read_table(gen)
            result = validate(read_table(held), generated, folder,
                              ValidationSettings(max_events=s.validation_events,
                                                 seed=stage_seed(s.seed, "validate")),
                              quiet=self.quiet)
            record: dict[str, Any] = {"verdict": result["summary"]["verdict"]}
            if "member" not in generated.names:
                return record
            observables = (self.state["stages"]["simulate"]["features"] if s.data is not None
                           else [s.reference.worth_observable])
            worth = [_worth_of_run(generated, name, np.asarray(edges, dtype=np.float64))
                     for name in observables
                     if (edges := result["quantities"].get(name, {}).get("edges"))
                     and not _constant(generated, name)]
            if worth:  # of the source's observable, or of each feature of your own table
                record["worth"] = worth[0]
                record["worth_by_feature"] = worth if s.data is not None else None
            return record

        self.stage(5, "validate", f"held-out reference vs generated (at most "
                   f"{s.validation_events:,} events each) -> {folder}/report.html", done, work,
                   f"{metrics} is newer than its inputs")

    def _metrics(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.out / VALIDATION / "metrics.json").read_text())
        except (OSError, ValueError):
            return None


def run_pipeline(out: str | os.PathLike[str], settings: RunSettings | None = None, *,
                 force: bool = False, quiet: bool = False,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the main job in the folder ``out``; return its summary.

    Arguments:
        out: run folder (created; its parent must exist). A folder holding a run with other
            settings is refused unless ``force``.
        settings: the job's settings (default: :class:`RunSettings`'s defaults).
        force: accept changed settings: redo the first stage they affect and every later one.
        quiet: no progress bars.
        log: called with one line per stage event (default: silent).

    Returns:
        The summary (also stored in ``out/run.json``): ``reference``, ``generation``,
        ``speedup``, ``model``, ``validation``, ``stages`` (seconds of each stage as recorded)
        and ``this_run`` (seconds of each stage in this call, ``None`` where skipped),
        ``skipped`` (stages skipped in this call).
    """
    from .files import undo_new_folder

    settings = settings or RunSettings()
    log = log or (lambda message: None)
    out_path = Path(out)
    with undo_new_folder(out_path, RUN_FILE):  # a job that fails before any output leaves no folder
        run = _open_run(out_path, settings, force, log)
        job = _Job(out_path, settings, run, quiet, log)
        job.simulate()
        job.split()
        job.train()
        job.generate()
        job.validate()
    summary = _summarise(job)
    run.state["summary"] = summary
    run.save()
    return summary


# ------------------------------------------------------------------------------- the summary


def _worth_of_run(generated: Any, observable: str, edges: np.ndarray) -> dict[str, Any]:
    """The worth of the whole generated sample in ``observable`` (validation's bins)."""
    from .stats.histogram_worth import describe, observable_values, recorded_ensemble, worth_of_sample

    values, unit = observable_values(generated, observable)
    train_events, groups = recorded_ensemble(generated.meta)
    w = worth_of_sample(values, np.asarray(generated["member"]), edges, train_events=train_events,
                        observable=observable, groups=groups)
    return {"observable": observable, "unit": unit, "n_eff": w.n_eff, "amplification": w.amplification,
            "generated_events": w.generated_events, "train_events": w.train_events, "members": w.members,
            "bins": len(edges) - 1, "line": describe(w, unit)}


def _constant(table: Any, name: str) -> bool:
    """A column with one value (restored exactly by the preprocessing): no worth to state (a
    derived observable such as ``mll`` is not a column and is not checked)."""
    if name not in table.names:
        return False
    values = np.asarray(table[name])
    return len(values) > 0 and bool(np.all(values == values[0]))


def _summarise(job: _Job) -> dict[str, Any]:
    from .validation.summary import distances, headline, worst_feature

    stages = job.state["stages"]
    sim, gen, trained = stages["simulate"], stages["generate"], stages["train"]
    sim_seconds = sim["seconds"]
    per_generated = sim["timed_events"] / sim_seconds if sim["timed_events"] else None
    per_selected = per_generated * sim["selection_efficiency"] if per_generated else None
    metrics = job._metrics() or {}
    clf = metrics.get("classifier")
    summary: dict[str, Any] = {
        "out": str(job.out),
        "settings": asdict(job.settings),
        "reference": {
            "events_generated": sim["events_generated"], "events_selected": sim["events_selected"],
            "selection_efficiency": sim["selection_efficiency"], "seconds": sim_seconds,
            "library_seconds": sim["library_seconds"], "workers": sim.get("workers"),
            "selected_events_per_second": per_selected,
            "generated_events_per_second": per_generated,
            "definition": "selected (analysis-level) reference events per second of simulation "
                          "wall time, PYTHIA/Dask start-up and the pileup library included",
            "data": job.settings.data, "collections": job.settings.collections,
            "features": sim.get("features"), "conditions": sim.get("conditions"),
        },
        "generation": {"events": gen["events"], "seconds": gen["generation_seconds"],
                       "events_per_second": gen["events_per_second"], "file_mb": gen["file_mb"],
                       "factor": gen["events"] / sim["events_selected"]},
        "speedup": {
            "per_selected_event": gen["events_per_second"] / per_selected if per_selected else None,
            "per_generated_event": gen["events_per_second"] / per_generated if per_generated else None,
        },
        "model": {**{k: trained[k] for k in ("model", "parameters", "file_mb", "steps", "best_step",
                                             "samples_per_second", "train_events", "val_events")},
                  "members": trained.get("members", 1)},
        "split": stages["split"],
        "validation": {
            "report": str(job.out / VALIDATION / "report.html"),
            "verdict": metrics.get("summary", {}).get("verdict"),
            "counts": metrics.get("summary", {}).get("counts"),
            "reference_events": metrics.get("samples", {}).get("reference", {}).get("n_used"),
            "generated_events": metrics.get("samples", {}).get("generated", {}).get("n_used"),
            "classifier_auc": clf["auc"] if clf else None,
            "classifier_auc_err": clf["auc_err"] if clf else None,
            "worst_feature": worst_feature(metrics),
            "headline": headline(metrics) if metrics else None,
            "distances": distances(metrics) if metrics else {},
        },
        "worth": stages.get("validate", {}).get("worth"),
        "worth_by_feature": stages.get("validate", {}).get("worth_by_feature"),
        "stages": {name: stages.get(name, {}).get("seconds") for name in STAGES},
        "this_run": dict(job.timings),
        "skipped": list(job.skipped),
    }
    # the trainer's clock adds up interrupted and resumed parts of the training
    summary["model"]["train_seconds"] = trained.get("trainer_seconds", trained["seconds"])
    return summary
