"""``validate``: compare a generated table with a reference table; numbers and a report.

The library entry point behind ``flashgen validate`` (and the end-to-end ``flashgen run``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import EventTable
from ..errors import FlashgenError
from ..files import check_output_path, plain
from ..seeds import seed_sequence
from ..sources.registry import align_frames
from ..progress import progress
from .binning import auto_edges, is_discrete
from .classifier import MIN_EVENTS_PER_CLASS, repeated_classifier_test
from .compare import Plan, Quantity, build_checks, compare, inherited_noise_factor, null_metrics
from .conditions import applicable_slicings, resolve_slicing
from .metrics import correlation_matrix, gaussianize
from ..sources.observables import OBSERVABLES, applicable_observables
from .metric_registry import THRESHOLDS, registered, value
from .thresholds import NOISE_MEAN_FACTOR, NOISE_SIGMAS, STATUSES, judge, noise_level

__all__ = ["CLASSIFIER_MAX_EVENTS", "Comparison", "ValidationSettings", "prepare", "validate"]

MEMBER = "member"
EVENT, COPY = "event", "copy"
"""Integer columns of an oversampled sample (``generate --oversample``): the copies of each
generator-level event are folded in the χ² uncertainties, never validated."""
_BOOKKEEPING = (MEMBER, EVENT, COPY)
"""Columns that say where a generated row came from, never validated: ``member`` (bootstrap-
ensemble member, drawn as a band), ``event`` and ``copy``."""

MAX_REPEATS = 1000
"""Most reference-vs-reference repeats: each recomputes every metric."""

CLASSIFIER_MAX_EVENTS = 200_000
"""Events per sample given to the classifier test at most (a seeded subsample above)."""


@dataclass(frozen=True)
class ValidationSettings:
    """How :func:`validate` compares two tables (checked on construction).

    Attributes:
        features: compare only these columns (and the observables computable from them);
            ``None``: every column common to both tables except ``member``, ``event``, ``copy``.
        max_events: use at most this many events of each table (seeded subsample); ``None``: all.
        seed: seed of every random choice, in [0, 2**63); the same seed gives the same numbers.
        repeats: reference-vs-reference bootstrap comparisons that estimate what a perfect
            generator scores (the statistical resolution of each metric), 2 to ``MAX_REPEATS``.
        classifier: run the classifier two-sample test.
        classifier_repeats: trainings of the classifier (independent seeds): the AUC is their
            mean, reported with their spread; at least 1.
        kpd_batch_size: events per sample and batch of the kernel distance, at least 2 (jetnet:
            5,000; the cost grows with its square, in every reference-vs-reference comparison).
    """

    features: tuple[str, ...] | None = None
    max_events: int | None = None
    seed: int = 0
    repeats: int = 10
    classifier: bool = True
    classifier_repeats: int = 5
    kpd_batch_size: int = 1_000

    def __post_init__(self) -> None:
        if self.features is not None:
            if isinstance(self.features, str):
                raise FlashgenError(f"features must be a sequence of column names, got the string "
                                    f"'{self.features}'")
            object.__setattr__(self, "features", tuple(self.features))
        if self.max_events is not None and self.max_events < 1:
            raise FlashgenError(f"max_events must be positive, got {self.max_events}")
        if not 0 <= self.seed < 2**63:
            raise FlashgenError(f"seed must be a non-negative integer below 2**63, got {self.seed}")
        if not 2 <= self.repeats <= MAX_REPEATS:
            raise FlashgenError(f"repeats must be between 2 and {MAX_REPEATS:,} to estimate the "
                                f"noise, got {self.repeats:,}")
        if self.classifier_repeats < 1:
            raise FlashgenError(f"classifier_repeats must be at least 1, got "
                                f"{self.classifier_repeats:,}")
        if self.kpd_batch_size < 2:
            raise FlashgenError(f"kpd_batch_size must be at least 2, got {self.kpd_batch_size:,}")


@dataclass
class Comparison:
    """Everything prepared for a comparison: samples of each quantity and the plan."""

    ref: dict[str, np.ndarray]
    gen: dict[str, np.ndarray]
    plan: Plan
    features: list[str]
    observables: list[str]
    member: np.ndarray | None
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    event: np.ndarray | None = None


def _numeric(values: np.ndarray) -> bool:
    return bool(np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.bool_))


def _select_features(ref: EventTable, gen: EventTable, features: Sequence[str] | None,
                     notes: list[str], skipped: list[str]) -> list[str]:
    if features is not None:
        missing = [f"{n} ({'reference' if n not in ref else 'generated'})"
                   for n in features if n not in ref or n not in gen]
        if missing:
            raise FlashgenError(f"feature(s) not in both tables: {', '.join(missing)}; common "
                                f"columns: {', '.join(n for n in ref.names if n in gen) or 'none'}")
        names = list(dict.fromkeys(features))
    else:
        names = [n for n in ref.names if n in gen and n not in _BOOKKEEPING]
        missing = [n for n in ref.names if n not in gen]
        skipped.extend(missing)
        if missing and names:
            notes.append(f"reference column(s) {', '.join(missing)} not in the generated table: "
                         "not compared")
        if not names:
            raise FlashgenError(
                f"the tables have no column in common (reference: {', '.join(ref.names)}; "
                f"generated: {', '.join(gen.names)}); compare tables of the same kind")
    keep = []
    for n in names:
        if not (_numeric(ref[n]) and _numeric(gen[n])):
            notes.append(f"column '{n}' is not numeric and is not compared")
        elif not np.any(np.isfinite(np.asarray(ref[n], dtype=np.float64))):
            notes.append(f"column '{n}' has no finite reference value and is not compared")
        else:
            keep.append(n)
    if not keep:
        raise FlashgenError(f"no numeric column to compare among {', '.join(names)}")
    return keep


def _subsample(table: EventTable, max_events: int | None, rng: np.random.Generator) -> EventTable:
    if max_events is None or len(table) <= max_events:
        return table
    return table.take(np.sort(rng.choice(len(table), max_events, replace=False)))


def prepare(reference: EventTable, generated: EventTable, *, features: Sequence[str] | None = None,
            max_events: int | None = None, seed: int = 0, fpd_batches: int = 6,
            kpd_batch_size: int = 1_000) -> Comparison:
    """Select the quantities, subsample, compute observables and fix bins from the reference.

    Arguments:
        reference, generated: the two tables.
        features: columns to compare (default: all columns common to both, except ``member``,
            ``event`` and ``copy``).
        max_events: compare at most this many events of each table (seeded subsample).
        seed: seed of the subsampling.
        fpd_batches: batches per size of the Fréchet extrapolation.
        kpd_batch_size: events per sample and batch of the kernel distance.
    """
    if max_events is not None and max_events < 1:
        raise FlashgenError(f"max_events must be positive, got {max_events}")
    notes: list[str] = []
    ref, gen, frame_notes = align_frames(reference, generated)  # each source's own frames
    notes.extend(frame_notes)
    skipped: list[str] = []
    names = _select_features(ref, gen, features, notes, skipped)
    rng_ref, rng_gen = (np.random.default_rng(seed_sequence(seed, k)) for k in range(2))
    ref = _subsample(ref, max_events, rng_ref)
    gen = _subsample(gen, max_events, rng_gen)
    if len(ref) < 2 or len(gen) < 2:
        raise FlashgenError(f"need at least 2 events per table, got {len(ref)} reference and "
                            f"{len(gen)} generated")

    member = None
    if MEMBER in generated and np.issubdtype(gen[MEMBER].dtype, np.integer) and MEMBER not in names:
        member = np.asarray(gen[MEMBER])
        if len(np.unique(member)) < 2:
            member = None
        else:
            notes.append(f"the generated table has {len(np.unique(member))} ensemble members "
                         "(column 'member'): histograms show the 68 % band of the uncertainty "
                         "inherited from the training sample, the χ² checks include it, and the "
                         "worth table gives each quantity's effective number of events")
    event = None
    if EVENT in generated and np.issubdtype(gen[EVENT].dtype, np.integer) and EVENT not in names:
        event = np.asarray(gen[EVENT])
        ids, per = np.unique(event, return_counts=True)
        if per.max(initial=0) < 2:
            event = None
        else:
            notes.append(f"the generated table oversamples {len(ids):,} generator-level events "
                         f"(column 'event', up to {per.max()} copies each): the χ² checks fold the "
                         "copies of each event in the generated uncertainty")

    quantities: dict[str, Quantity] = {}
    rs: dict[str, np.ndarray] = {}
    gs: dict[str, np.ndarray] = {}
    for n in names:
        r = np.asarray(ref[n], dtype=np.float64)
        g = np.asarray(gen[n], dtype=np.float64)
        unit = ref.unit(n) or gen.unit(n)
        quantities[n] = Quantity(
            n, "feature", unit, f"{n} [{unit}]" if unit else n, auto_edges(r),
            discrete=is_discrete(ref[n]), nullable=bool(np.isnan(r).any() or np.isnan(g).any()),
            description=ref.columns[n].description)
        rs[n], gs[n] = r, g

    common = [n for n in ref.names if n in gen]
    pool = names if features is not None else common
    observables = [o for o in applicable_observables(pool) if o.name not in quantities]
    for o in observables:
        r, g = o(ref), o(gen)
        quantities[o.name] = Quantity(
            o.name, "observable", o.unit, o.label, auto_edges(r, hint=o.binning),
            discrete=o.binning is None and is_discrete(r),
            nullable=bool(np.isnan(r).any() or np.isnan(g).any()), description=o.description)
        rs[o.name], gs[o.name] = r, g

    observable_names = {o.name for o in observables}
    slicings = []
    for s in applicable_slicings(common):
        vr, vg = s.variable(ref), s.variable(gen)
        resolved = resolve_slicing(s, vr, quantities, common)
        if resolved is None:
            continue
        slicings.append(resolved)
        rs[f"slice:{s.name}"], gs[f"slice:{s.name}"] = vr, vg
        for t in resolved.targets:
            hint = OBSERVABLES[t].binning if t in observable_names else None
            for k in range(len(resolved.bins)):
                resolved.target_edges[(k, t)] = auto_edges(rs[t][resolved.mask(vr, k)], hint=hint)
        if resolved.efficiency is not None:
            e = resolved.efficiency
            rs.setdefault(e, np.asarray(ref[e], dtype=np.float64))
            gs.setdefault(e, np.asarray(gen[e], dtype=np.float64))

    for n in names:
        ref_sorted = np.sort(rs[n][np.isfinite(rs[n])])
        rs[f"gauss:{n}"] = gaussianize(ref_sorted, rs[n])
        gs[f"gauss:{n}"] = gaussianize(ref_sorted, gs[n])
    plan = Plan(quantities, slicings, list(names), fpd_batches, kpd_batch_size=kpd_batch_size)
    return Comparison(rs, gs, plan, list(names), [o.name for o in observables], member, notes,
                      skipped, event=event)


@contextlib.contextmanager
def _stages(total: int, quiet: bool) -> Iterator[Any]:
    if quiet:
        yield None
        return
    with progress(total=total, desc="validate", unit="step") as bar:
        yield bar


def _step(bar: Any, what: str) -> None:
    if bar is not None:
        bar.set_postfix_str(what)
        bar.update(1)


def _sample_info(table: EventTable, used: int) -> dict[str, Any]:
    meta = {k: v for k, v in table.meta.items() if k != "columns"}
    return {"n_events": len(table), "n_used": used, "meta": meta}


def validate(reference: EventTable, generated: EventTable,
             out_dir: str | os.PathLike[str] | None = None,
             settings: ValidationSettings | None = None, *, quiet: bool = False) -> dict[str, Any]:
    """Compare ``generated`` with ``reference``; optionally write a report to ``out_dir``.

    Arguments:
        reference, generated: the two tables (columns compared: those common to both, except
            ``member``, ``event`` and ``copy``; a generated ``member`` column draws ensemble
            bands, an ``event`` column of an oversampled sample folds its copies in the χ²).
        out_dir: folder for ``report.html``, ``metrics.json`` and PNGs (``None``: no files).
        settings: what to compare and how (:class:`ValidationSettings`; ``None``: its defaults).
        quiet: no progress bar.

    Returns:
        The metrics, JSON-ready (the content of ``metrics.json``).
    """
    from .. import __version__

    cfg = settings if settings is not None else ValidationSettings()
    features, max_events, seed, repeats = cfg.features, cfg.max_events, cfg.seed, cfg.repeats
    if out_dir is not None:
        check_output_path(out_dir, directory=True)
    seeds = np.random.SeedSequence(seed).generate_state(4)
    n_stages = 3 + repeats + (out_dir is not None)
    with _stages(n_stages, quiet) as bar:
        comp = prepare(reference, generated, features=features, max_events=max_events,
                       seed=int(seeds[0]), kpd_batch_size=cfg.kpd_batch_size)
        plan = comp.plan
        n_ref, n_gen = len(next(iter(comp.ref.values()))), len(next(iter(comp.gen.values())))
        n_noise = n_gen
        if comp.event is not None:
            # the noise of KS and W1 is simulated with independent rows; copies of one
            # generator-level event are not independent, so the generated sample counts as its
            # distinct events there (conservative: copies do add some information)
            n_noise = min(n_gen, len(np.unique(comp.event)))
        _step(bar, "prepared")
        unavailable: dict[str, str] = {}  # key -> why its metrics are NaN
        results = compare(comp.ref, comp.gen, plan, seed=int(seeds[1]), unavailable=unavailable,
                          member=comp.member, event=comp.event)
        _step(bar, "metrics")
        null = null_metrics(comp.ref, n_ref, n_noise, plan, repeats=repeats, seed=int(seeds[2]),
                            on_repeat=lambda: _step(bar, "resolution"))
        worth = _worth(comp, generated) if comp.member is not None else None
        inherited = {f"{w['kind']}/{name}": inherited_noise_factor(n_ref, n_noise, w["n_eff"])
                     for name, w in (worth or {}).items()}
        checks = build_checks(results, null, inherited)
        clf = _classifier(comp, int(seeds[3]), cfg.classifier_repeats) if cfg.classifier else None
        _step(bar, "classifier")

        counts = {s: sum(c.status == s for c in checks) for s in STATUSES}
        out: dict[str, Any] = {
            "flashgen_version": __version__,
            "settings": {"seed": seed, "max_events": max_events, "repeats": repeats,
                         "features": comp.features, "observables": comp.observables,
                         "noise_sigmas": NOISE_SIGMAS, "noise_mean_factor": NOISE_MEAN_FACTOR,
                         "notes": comp.notes},
            "samples": {"reference": _sample_info(reference, n_ref),
                        "generated": _sample_info(generated, n_gen)},
            "quantities": {q.name: {"kind": q.kind, "unit": q.unit, "label": q.label,
                                    "description": q.description, "discrete": q.discrete,
                                    "nullable": q.nullable, "edges": q.edges}
                           for q in plan.quantities.values()},
            "slicings": {s.name: {"variable": s.spec.label, "unit": s.spec.unit, "bins": s.bins,
                                  "labels": s.labels(), "targets": list(s.targets),
                                  "efficiency": s.efficiency} for s in plan.slicings},
            "metrics": results,
            "unavailable": unavailable,
            "resolution": {k: {mname: dict(zip(("mean", "std", "noise"), noise_level(v), strict=True))
                               for mname, v in d.items()} for k, d in null.items()},
            "thresholds": {k: {"limit": t.limit, "description": t.description}
                           for k, t in _thresholds().items()},
        }
        if worth is not None:
            out["worth"] = worth
        if comp.event is not None:
            out["oversampling"] = _oversampling(comp)
        if len(comp.features) >= 2 and "global/correlation" not in unavailable:
            out["correlation"] = {
                "columns": comp.features,
                "reference": correlation_matrix(np.stack([comp.ref[n] for n in comp.features], 1)),
                "generated": correlation_matrix(np.stack([comp.gen[n] for n in comp.features], 1)),
            }
        if clf is not None:
            out["classifier"] = clf
            noise = 0.5 + NOISE_SIGMAS * clf["null_std"]
            limit = value("auc").limit  # its noise is analytic: the AUC's exact null distribution
            check = {"key": "global/classifier", "metric": "auc", "value": clf["auc"],
                     "limit": limit, "null_mean": 0.5, "null_std": clf["null_std"], "noise": noise,
                     "status": judge(clf["auc"], limit, noise)}
            counts[check["status"]] += 1
            if check["status"] == "unavailable":
                unavailable["global/classifier"] = "classifier AUC not computed (NaN)"
        out["checks"] = ([check] if clf is not None else []) + [c.to_dict() for c in checks]
        failed = [f"{c['key']}:{c['metric']}" for c in out["checks"] if c["status"] == "fail"]
        na_keys = list(dict.fromkeys(c["key"] for c in out["checks"] if c["status"] == "unavailable"))
        verdict = _verdict({s: n for s, n in counts.items() if s != "unavailable"})
        if na_keys:  # never a silent pass: say what could not be computed (reasons: "unavailable")
            where = ", ".join(na_keys[:3]) + (" ..." if len(na_keys) > 3 else "")
            verdict = (f"none of the {counts['unavailable']} checks could be computed"
                       if counts["unavailable"] == len(out["checks"]) else
                       f"{verdict}; {counts['unavailable']} more could not be computed ({where})")
        out["summary"] = {"counts": counts, "n_checks": len(out["checks"]), "failed": failed,
                          "verdict": verdict,
                          "skipped_columns": comp.skipped}  # also a note: report and terminal
        out = plain(out)
        if out_dir is not None:
            from .report import write_report

            write_report(out_dir, out, comp)
            _step(bar, "report")
    return out


def _thresholds() -> dict[str, Any]:
    """The tolerances of the registered metrics (:data:`~.metric_registry.THRESHOLDS`)."""
    registered()
    return THRESHOLDS


def _oversampling(comp: Comparison) -> dict[str, Any]:
    """What the copies of an oversampled sample are worth in every feature and observable
    histogram (the validation's bins; :func:`flashgen.stats.oversampling.oversampling_gain`)."""
    from ..stats.oversampling import oversampling_gain

    assert comp.event is not None
    return {q.name: oversampling_gain(comp.gen[q.name], comp.event,
                                      np.asarray(q.edges, dtype=np.float64)).to_json()
            for q in comp.plan.quantities.values()}


def _worth(comp: Comparison, generated: EventTable) -> dict[str, Any]:
    """Effective events and amplification of every feature and observable histogram (the
    validation's bins) of the compared generated events, from their ensemble members
    (:mod:`flashgen.stats.histogram_worth`); quantities whose ensemble cannot give it are left out."""
    from ..stats.histogram_worth import recorded_ensemble, worth_of_sample

    n_train, groups = recorded_ensemble(generated.meta)
    out: dict[str, Any] = {}
    for q in comp.plan.quantities.values():
        try:
            w = worth_of_sample(comp.gen[q.name], comp.member, np.asarray(q.edges, dtype=np.float64),
                                train_events=n_train, observable=q.name, groups=groups)
        except FlashgenError:
            continue
        out[q.name] = {"kind": q.kind, "n_eff": w.n_eff, "amplification": w.amplification,
                       "generated_events": w.generated_events, "train_events": n_train,
                       "members": w.members, "bins": len(q.edges) - 1}
    return out


def _classifier(comp: Comparison, seed: int, repeats: int) -> dict[str, Any] | None:
    names = comp.features + comp.observables
    xr = np.stack([comp.ref[n] for n in names], axis=1)
    xg = np.stack([comp.gen[n] for n in names], axis=1)
    if min(len(xr), len(xg)) < MIN_EVENTS_PER_CLASS:
        comp.notes.append(f"classifier test skipped: fewer than {MIN_EVENTS_PER_CLASS} events")
        return None
    rng = np.random.default_rng(seed)
    note = ""
    if len(xr) > CLASSIFIER_MAX_EVENTS:
        xr = xr[np.sort(rng.choice(len(xr), CLASSIFIER_MAX_EVENTS, replace=False))]
        note = f" (reference capped at {CLASSIFIER_MAX_EVENTS})"
    if len(xg) > CLASSIFIER_MAX_EVENTS:
        xg = xg[np.sort(rng.choice(len(xg), CLASSIFIER_MAX_EVENTS, replace=False))]
        note += f" (generated capped at {CLASSIFIER_MAX_EVENTS})"
    rep = repeated_classifier_test(xr, xg, repeats=repeats, features=names,
                                   seed=int(rng.integers(2**31)))
    d = rep.first.to_dict()
    d["balanced"] = rep.first.balanced + note
    d.update(auc=rep.mean, auc_first=rep.first.auc, auc_runs=rep.aucs.tolist(),
             auc_spread=rep.spread, repeats=repeats)
    return d


def _verdict(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if counts["fail"]:
        return f"{counts['fail']} of {total} checks fail: the generator differs beyond tolerance"
    if counts["warn"]:
        return (f"no check fails; {counts['warn']} of {total} show significant differences "
                "within tolerance")
    if counts["limited"]:
        return (f"no check fails; {counts['limited']} of {total} are limited by the sample sizes "
                "(noise above tolerance)")
    return f"all {total} checks pass: indistinguishable from the reference at these sample sizes"
