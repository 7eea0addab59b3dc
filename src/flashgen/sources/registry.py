"""Source profiles: what flashgen knows about each reference source, declared once, by the source.

A :class:`Profile` is registered by every source (``sources/<name>``) with
:func:`register_profile`; it names the source's columns with units, its derived quantities
(:class:`Observable`, one name each, with unit and binning), its training presets
(:class:`Preset`), its validation slicings (:class:`Slicing`), how to bring two of its tables
into one frame, and its exact truths where they exist. Training, validation and statistics look
these up by name here; they hold no dataset knowledge themselves.

Registering a profile fills the registries :data:`OBSERVABLES`, :data:`SLICINGS`,
:data:`PRESETS` and :data:`PROFILES` (a name may be registered once). Importing
:mod:`flashgen.sources` registers every built-in source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import Column, EventTable
from ..errors import FlashgenError

if TYPE_CHECKING:
    from ..models.config import ModelConfig

__all__ = ["COMPARISON_PAIRS", "OBSERVABLES", "PRESETS", "PROFILES", "SLICINGS", "Acceptance", "Observable",
           "Preset", "Profile", "ReferenceJob", "Slicing", "align_frames", "get_preset", "nanoaod_profile", "quantity",
           "register_observable", "register_profile", "register_slicing", "truths"]

Frames = Callable[[EventTable, EventTable], tuple[EventTable, EventTable, str]]
"""``(reference, generated) -> (reference, generated, note)``: bring two tables into one frame."""


@dataclass(frozen=True)
class Observable:
    """A derived quantity computed per event.

    Arguments:
        name: short identifier, e.g. ``"mll"``; the one name used by training (snapshot
            selection, regression terms) and validation.
        function: ``columns -> array of shape (n_events,)`` (NaN where undefined), where
            ``columns`` maps column names to arrays (an :class:`~flashgen.data.EventTable` or a
            dict); quantities used by training also accept torch tensors.
        unit: unit of the result (``"GeV"``, ``"rad"`` or ``""``).
        requires: columns the function reads (all must be present).
        label: axis label for plots.
        binning: ``(low, high, n_bins)`` when the quantity has a natural range, else ``None``
            (bins are then chosen from the reference).
        description: one line saying what it is.
    """

    name: str
    function: Callable[[Any], Any] = field(repr=False)
    unit: str
    requires: tuple[str, ...]
    label: str
    binning: tuple[float, float, int] | None = None
    description: str = ""

    def __call__(self, table: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(self.function(table), dtype=np.float64)


@dataclass(frozen=True)
class Slicing:
    """How to slice events by a condition for conditional validation checks.

    Arguments:
        name: identifier, e.g. ``"nvtx"``.
        variable: ``EventTable -> array (n_events,)`` whose value selects the slice.
        requires: columns ``variable`` reads.
        label: how to print the variable (e.g. ``"|gen_eta|"``).
        targets: quantities (features or observables) compared within each slice; those not
            available are skipped.
        efficiency: a 0/1 column whose mean is compared per slice (e.g. ``"detected"``).
        edges: fixed inner bin edges; or
        quantiles: inner edges as quantiles of the reference (e.g. ``(0.5,)`` splits at the
            median). Slices are ``[edge_k, edge_k+1)`` with open outer ends.
        unit: unit of the variable.
    """

    name: str
    variable: Callable[[EventTable], np.ndarray] = field(repr=False)
    requires: tuple[str, ...]
    label: str
    targets: tuple[str, ...] = ()
    efficiency: str | None = None
    edges: tuple[float, ...] | None = None
    quantiles: tuple[float, ...] | None = None
    unit: str = ""


@dataclass(frozen=True)
class Acceptance:
    """Where a source's events can exist at all, as a cut on the generated columns: a model
    that puts events elsewhere (e.g. a muon beyond the detector's |eta| acceptance) has them
    redrawn at generation (:func:`flashgen.generation.generate_columns`).

    Arguments:
        description: the cut in words (shown in messages), e.g. ``"both muons |eta| <= 2.4"``.
        columns: the columns it reads.
        inside: ``columns -> bool array``, True where the event is possible.
    """

    description: str
    columns: tuple[str, ...]
    inside: Callable[[Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Preset:
    """Training defaults for one kind of dataset.

    Arguments:
        name: preset name.
        features: generated columns.
        conditions: condition columns (empty: unconditional).
        feature_steps: factory of the feature preprocessing steps
            (:mod:`flashgen.transforms`).
        condition_steps: factory of the condition preprocessing steps.
        efficiency: 0/1 column learned by a detection-efficiency classifier, if any.
        efficiency_required: a table without the ``efficiency`` column is an error (default:
            the preset then learns no efficiency), with ``efficiency_hint`` saying how to make one.
        selection: quantities whose KS sum on held-out data selects the snapshot (default: the
            features), or ``("loss",)``: the model's held-out loss (a flow's NLL).
        regression: GAN regression terms ``(quantity, weight_mean, weight_std)``.
        regression_standardised: the terms are divided by the data's variance of the quantity
            (dimensionless weights); ``False``: weights in 1/unit², as the Z→μμ paper's
            ``c1 = c2 = 1e-4``.
        model_steps: feature preprocessing for particular model families (e.g. a paper's own
            model with the paper's own preprocessing), replacing ``feature_steps`` for them.
        papers: model family -> the paper whose own model the preset builds for it (shown by
            ``flashgen train --help``).
        val_fraction: fraction of events held out for selection (0: keep the last snapshot).
        train: training-loop settings by model family, by name (the fields of
            :class:`flashgen.training.TrainConfig`: ``steps``, ``batch_size``,
            ``snapshot_every``, ``lr_decay``; checked when used and by the tests), and
            ``"efficiency"`` for the efficiency classifier; families not named use the
            defaults.
        hparams: the model's settings by model family, each the family's typed config
            (:class:`~flashgen.models.flow.FlowConfig`, ...), and ``"efficiency"``
            (:class:`~flashgen.models.efficiency.EfficiencyConfig`); families not named use
            the defaults, and ``--set`` values override single settings.
        acceptance: where the preset's events can exist (:class:`Acceptance`); generated
            events outside are redrawn, for models of the preset's own features.
    """

    name: str
    features: tuple[str, ...]
    conditions: tuple[str, ...] = ()
    feature_steps: Callable[[], list[Any]] = list
    condition_steps: Callable[[], list[Any]] = list
    efficiency: str | None = None
    efficiency_required: bool = False
    efficiency_hint: str = ""
    selection: tuple[str, ...] = ()
    regression: tuple[tuple[str, float, float], ...] = ()
    regression_standardised: bool = True
    model_steps: dict[str, Callable[[], list[Any]]] = field(default_factory=dict)
    papers: dict[str, str] = field(default_factory=dict)
    val_fraction: float = 0.2
    train: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    hparams: Mapping[str, ModelConfig] = field(default_factory=dict)
    acceptance: Acceptance | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.val_fraction < 1:
            raise FlashgenError(f"preset {self.name}: val_fraction must be in [0, 1)")
        both = set(self.features) & set(self.conditions)
        if both:
            raise FlashgenError(f"preset {self.name}: {', '.join(sorted(both))} both feature and condition")

    def steps_for(self, model: str) -> list[Any]:
        """Fresh feature preprocessing steps for the model family ``model``."""
        return self.model_steps.get(model, self.feature_steps)()


@dataclass(frozen=True)
class ReferenceJob:
    """How a source takes part in the main job (``flashgen run``, :mod:`flashgen.job`): the job's
    stages (simulate, split, train, generate, validate, worth) are generic; what is the source's
    own is declared here.

    Arguments:
        label: what its events are called in the job's lines (e.g. ``"Z→μμ"``).
        preset: the training preset of the job's model.
        worth_observable: the derived quantity whose worth the job's summary states.
        simulate: ``(events, seed, folder, options, workers, quiet) -> summary``: write (or
            complete) the reference in ``folder``; the summary holds ``events_generated``,
            ``events_selected``, ``selection_efficiency``, ``shards``, ``seconds``,
            ``library_seconds`` and ``events_per_second`` (of the events this call simulated).
        complete: ``(folder, events) -> bool``: the reference in ``folder`` is finished.
        describe: ``(events, options) -> str``: what the simulation stage makes, for its line.
        options: the job settings the source reads (names of :class:`flashgen.job.RunSettings`
            fields, e.g. ``("pileup", "library_events")``), passed to ``simulate``.
    """

    label: str
    preset: str
    worth_observable: str
    simulate: Callable[..., dict[str, Any]] = field(repr=False)
    complete: Callable[[Any, int], bool] = field(repr=False)
    describe: Callable[[int, Mapping[str, Any]], str] = field(repr=False)
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """Everything flashgen knows about one reference source.

    Arguments:
        name: the source's name (``flashgen simulate NAME``).
        description: one line.
        columns: the columns it writes, with units.
        observables: derived quantities of its tables.
        slicings: conditional validation checks.
        presets: training presets.
        comparison_pairs: ``(x, y)`` quantities shown as 2D histograms side by side.
        align: brings a reference and a generated table of this source into one frame (e.g. a
            table stored in a rotated analysis frame), or ``None``.
        truths: exact densities by name (constructors of :class:`~flashgen.sources.toys.ToyDensity`),
            for studies where the truth must be known exactly.
        cli: adds the source's ``flashgen simulate NAME`` subcommand to an argparse
            subparsers object (imports its command-line code only when called), or ``None``.
        nanoaod: ``columns -> {collection name: awkward array}``, the source's table as NanoAOD
            collections (jagged records such as ``"Muon"``, per-event records such as ``"MET"``)
            for :mod:`flashgen.nanoaod`; raises :class:`FlashgenError` when columns it needs
            are missing; ``None``: no NanoAOD output.
        job: how the source's reference feeds the main job (:class:`ReferenceJob`), or ``None``.
    """

    name: str
    description: str
    columns: tuple[Column, ...] = ()
    observables: tuple[Observable, ...] = ()
    slicings: tuple[Slicing, ...] = ()
    presets: tuple[Preset, ...] = ()
    comparison_pairs: tuple[tuple[str, str], ...] = ()
    align: Frames | None = None
    truths: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    cli: Callable[[Any], None] | None = None
    nanoaod: Callable[[Mapping[str, np.ndarray]], dict] | None = None
    job: ReferenceJob | None = None


PROFILES: dict[str, Profile] = {}
"""Registered source profiles by name."""
OBSERVABLES: dict[str, Observable] = {}
"""Registered derived quantities by name (from every profile)."""
SLICINGS: dict[str, Slicing] = {}
"""Registered conditional checks by name."""
PRESETS: dict[str, Preset] = {}
"""Registered training presets by name."""
COMPARISON_PAIRS: list[tuple[str, str]] = []
"""``(x, y)`` quantities shown as 2D histograms side by side when both are available."""


def _add(registry: dict[str, Any], item: Any, what: str, replace: bool) -> Any:
    if item.name in registry and not replace:
        raise FlashgenError(f"a {what} named '{item.name}' is already registered")
    registry[item.name] = item
    return item


def register_observable(observable: Observable, *, replace: bool = False) -> Observable:
    """Add ``observable`` to :data:`OBSERVABLES` (``replace=True`` to overwrite a name)."""
    return _add(OBSERVABLES, observable, "quantity", replace)


def register_slicing(slicing: Slicing, *, replace: bool = False) -> Slicing:
    """Add ``slicing`` to :data:`SLICINGS` (``replace=True`` to overwrite a name)."""
    return _add(SLICINGS, slicing, "slicing", replace)


def register_profile(profile: Profile) -> Profile:
    """Register a source profile and everything it declares."""
    _add(PROFILES, profile, "source profile", False)
    for o in profile.observables:
        register_observable(o)
    for s in profile.slicings:
        register_slicing(s)
    for p in profile.presets:
        _add(PRESETS, p, "preset", False)
    COMPARISON_PAIRS.extend(p for p in profile.comparison_pairs if p not in COMPARISON_PAIRS)
    return profile


def get_preset(name: str) -> Preset:
    """The preset registered as ``name``; a clear error naming the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise FlashgenError(f"unknown preset '{name}'; choose from {', '.join(sorted(PRESETS))}") from None


def quantity(name: str, columns: Mapping[str, Any]) -> Any:
    """Column ``name`` of ``columns``, else the registered derived quantity ``name`` of them
    (numpy arrays or, differentiably, torch tensors)."""
    if name in columns:
        return columns[name]
    if name in OBSERVABLES:
        return OBSERVABLES[name].function(columns)
    raise FlashgenError(f"unknown quantity '{name}': not a column, nor one of {', '.join(OBSERVABLES)}")


def align_frames(reference: EventTable, generated: EventTable) -> tuple[EventTable, EventTable, list[str]]:
    """Bring two tables into one frame with every profile's ``align``; returns both tables and
    the notes saying what was done (empty when nothing)."""
    notes = []
    for profile in PROFILES.values():
        if profile.align is not None:
            reference, generated, note = profile.align(reference, generated)
            if note:
                notes.append(note)
    return reference, generated, notes


def truths() -> dict[str, Callable[..., Any]]:
    """Every registered exact truth by name (constructors of toy densities)."""
    out: dict[str, Callable[..., Any]] = {}
    for profile in PROFILES.values():
        out.update(profile.truths)
    return out


def applicable(items: Iterable[Any], columns: Iterable[str]) -> list[Any]:
    """Those of ``items`` (observables or slicings) whose ``requires`` columns are all present."""
    available = set(columns)
    return [i for i in items if set(i.requires) <= available]


def names_of(registry: Mapping[str, Any], names: Sequence[str] | None, what: str) -> list[Any]:
    """Items of ``registry`` named ``names`` (all when ``None``); unknown names are an error."""
    if names is None:
        return list(registry.values())
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise FlashgenError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(registry)}")
    return [registry[n] for n in names]


def nanoaod_profile(names: Iterable[str], source: str | None = None) -> Any:
    """The registered source profile whose NanoAOD mapping applies to a table with columns ``names``.

    Arguments:
        names: the table's column names.
        source: the profile to use (default: the first registered one whose mapping applies).

    Raises:
        FlashgenError: no registered profile (or not ``source``) can map these columns.
    """
    from . import PROFILES as _all  # noqa: F401  (importing the package registers every source)

    names = list(names)
    mappable = [p for p in PROFILES.values() if p.nanoaod is not None]
    candidates = [p for p in mappable if source is None or p.name == source]
    empty = {n: np.zeros(0) for n in names}
    for profile in candidates:
        try:
            profile.nanoaod(empty)
        except FlashgenError:
            continue
        return profile
    known = ", ".join(p.name for p in (candidates or mappable)) or "none registered"
    raise FlashgenError(f"--format nanoaod needs a table of a source with a NanoAOD mapping "
                        f"({known}); this one has columns {', '.join(names) or 'none'}")
