"""Validation of an oversampled generated table (columns ``event`` and ``copy``): the χ² folds
the copies of each generator-level event, ``event`` and ``copy`` are never compared."""

from __future__ import annotations

import numpy as np
import pytest
from validation_synthetic import make_zmumu

from flashgen.data import EventTable
from flashgen.validation import ValidationSettings, validate
from flashgen.validation.compare import compare
from flashgen.validation.validate_samples import prepare


def _oversampled(table: EventTable, copies: int) -> EventTable:
    """Every event of ``table`` repeated ``copies`` times (identical copies: the extreme
    correlation), with the ``event`` and ``copy`` columns of ``generate --oversample``."""
    n = len(table)
    out = table.take(np.repeat(np.arange(n), copies))
    out.data["event"] = np.repeat(np.arange(n), copies)
    out.data["copy"] = np.tile(np.arange(copies, dtype=np.int16), n)
    return out


def test_the_chi2_folds_identical_copies() -> None:
    """4,000 events x 5 identical copies against 20,000 independent reference events of the
    same normal distribution, 40 degrees of freedom (42 bins, a sparse tail bin pooled). The
    naive χ² treats the 20,000 rows as independent: its expectation is
    (1/20,000 + 5/20,000) / (1/20,000 + 1/20,000) = 3 per degree of freedom (2.2-4.5 over 20
    seeds). Folded, it is a χ² of 4,000 events against 20,000: 0.8-1.7 over the same seeds
    (mean 1.17: its variance is estimated from the generated counts, which favours bins that
    fluctuate low)."""
    rng = np.random.default_rng(100)
    ref = EventTable({"x": rng.normal(size=20_000)})
    gen = _oversampled(EventTable({"x": rng.normal(size=4000)}), 5)
    comp = prepare(ref, gen, seed=0)
    assert comp.features == ["x"] and comp.event is not None
    assert any("oversamples 4,000 generator-level events" in n and "5 copies" in n for n in comp.notes)
    folded = compare(comp.ref, comp.gen, comp.plan, event=comp.event)["feature/x"]
    naive = compare(comp.ref, comp.gen, comp.plan)["feature/x"]
    assert folded["ndf"] == naive["ndf"] == 40  # 42 bins, a sparse tail bin pooled with its neighbour
    assert naive["chi2_ndf"] > 2.0 and 0.5 < folded["chi2_ndf"] < 1.8
    assert folded["chi2_ndf_statistical"] == pytest.approx(naive["chi2_ndf"])
    assert "chi2_ndf_statistical" not in naive


def test_one_copy_per_event_changes_nothing() -> None:
    rng = np.random.default_rng(5)
    ref = EventTable({"x": rng.normal(size=5000)})
    gen = _oversampled(EventTable({"x": rng.normal(size=5000)}), 1)
    comp = prepare(ref, gen, seed=0)
    assert comp.features == ["x"] and comp.event is None  # no id repeats: nothing to fold
    assert not any("oversamples" in n for n in comp.notes)


def test_validate_an_oversampled_zmumu_sample() -> None:
    """End to end, with the nvtx slicing (copies share nvtx, so each slice folds them too):
    identical copies of independent events pass every check (the χ² folds the copies; the KS and
    W1 noise is simulated at the number of distinct events), and the χ² keeps its plain value.
    Before the KS/W1 noise counted distinct events, met_y's KS statistic failed here."""
    ref = make_zmumu(10_000, 1)
    gen = _oversampled(make_zmumu(2000, 2), 5)
    res = validate(ref, gen, None,
        ValidationSettings(features=["met_x", "met_y", "nvtx"], repeats=2, classifier=False), quiet=True)
    assert res["settings"]["features"] == ["met_x", "met_y", "nvtx"]
    full = validate(ref.select(["met_x", "met_y"]), gen, None,
        ValidationSettings(repeats=2, classifier=False), quiet=True)
    assert full["settings"]["features"] == ["met_x", "met_y"]  # event and copy never compared
    assert any("2,000 generator-level events" in n for n in res["settings"]["notes"])
    assert [(c["key"], c["metric"]) for c in res["checks"] if c["status"] == "fail"] == []
    chi2 = {k: (m["chi2_ndf"], m["chi2_ndf_statistical"]) for k, m in res["metrics"].items() if "chi2_ndf" in m}
    assert any(k.startswith("conditional/nvtx/") for k in chi2)
    assert all(k.startswith(("feature/", "observable/", "conditional/")) for k in chi2)
    assert np.mean([folded for folded, _ in chi2.values()]) < 2.0
    assert np.mean([plain for _, plain in chi2.values()]) > 2.0
    # what the identical copies are worth: exactly the 2,000 events, error 1 (not 1/√5)
    over = res["oversampling"]["met_x"]
    assert over["events"] == 2000 and over["copies"] == 5
    assert over["equivalent_events"] == pytest.approx(2000) and over["error_ratio"] == pytest.approx(1.0)


def test_report_states_what_the_copies_are_worth(tmp_path) -> None:
    rng = np.random.default_rng(8)
    ref = EventTable({"x": rng.normal(size=5000)})
    gen = _oversampled(EventTable({"x": rng.normal(size=1000)}), 4)
    res = validate(ref, gen, tmp_path, ValidationSettings(repeats=2, classifier=False), quiet=True)
    html = (tmp_path / "report.html").read_text()
    assert 'id="oversampling-table"' in html and "What the oversampled copies are worth" in html
    assert res["oversampling"]["x"]["copies"] == 4 and res["oversampling"]["x"]["equivalent_events"] == pytest.approx(1000)
