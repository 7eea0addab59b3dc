"""The verdict on simulated Z→μμ: a second independent sample of the truth passes every check,
and a 2 % muon momentum scale fails the m(μμ) checks (not the jets, MET or pileup).

The "generator" is simulated events, in the zmumu preset's features and analysis frame, exactly
as a model's output reaches the validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flashgen.data import EventTable, read_table
from flashgen.sources.zmumu import ZmumuOptions, simulate_zmumu
from flashgen.sources.zmumu.quantities import rotate_to_mu1_frame
from flashgen.validation import ValidationSettings, validate

LAB = ["mu0_px", "mu0_py", "mu0_pz", "mu0_e", "mu1_px", "mu1_py", "mu1_pz", "mu1_e", "nvtx",
       "met_x", "met_y", "iso0", "iso1", "jet1_pt", "jet2_pt", "jet3_pt", "jet4_pt", "jet5_pt"]
MUON = ["mu0_px", "mu0_py", "mu0_pz", "mu0_e", "mu1_px", "mu1_pz", "mu1_e"]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[EventTable, EventTable]:
    """Two independent samples of one simulation (different shards, one pileup library)."""
    out: Path = tmp_path_factory.mktemp("truth") / "dy"
    simulate_zmumu(3_200, 3, out, options=ZmumuOptions(pileup=20.0, shard_size=200, library_events=300),
                   quiet=True)
    table = read_table(out)
    half = len(table) // 2
    reference = table.take(np.arange(half))
    generated = rotate_to_mu1_frame(table.take(np.arange(half, len(table))).select(LAB))
    return reference, generated


def test_a_second_sample_of_the_truth_passes_every_check(halves: tuple[EventTable, EventTable]) -> None:
    reference, generated = halves
    res = validate(reference, generated, None, ValidationSettings(seed=2, repeats=6), quiet=True)
    failed = res["summary"]["failed"]
    assert res["summary"]["counts"]["fail"] == 0, failed
    assert res["classifier"]["auc"] < 0.5 + 4 * res["classifier"]["null_std"]
    assert len(res["classifier"]["auc_runs"]) == 5
    frechet = res["resolution"]["global/frechet"]["fpd"]
    assert res["metrics"]["global/frechet"]["fpd"] < frechet["mean"] + 4 * frechet["std"]


def test_a_two_percent_muon_scale_fails_the_mass(halves: tuple[EventTable, EventTable]) -> None:
    reference, generated = halves
    scaled = EventTable({n: (np.asarray(generated[n]) * 1.02 if n in MUON else generated[n])
                         for n in generated.names}, generated.columns, generated.meta)
    res = validate(reference, scaled, None, ValidationSettings(seed=2, repeats=6), quiet=True)
    failed = res["summary"]["failed"]
    assert any(f.startswith("observable/mll:") for f in failed), failed
    # only what the muon momenta enter fails: never the jets, MET, pileup or isolation
    untouched = ("jet", "met", "nvtx", "iso", "njet15")
    assert not [f for f in failed if f.split("/")[1].startswith(untouched)], failed
