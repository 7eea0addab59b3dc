"""Single-electron response: speed, exact log-normal pT', efficiency per bin, NaN rows, seeding."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from flashgen.cli.main import main
from flashgen.data import read_table, write_table
from flashgen.errors import FlashgenError
from flashgen.sources.electron import (
    DATASET_A,
    efficiency,
    resolution,
    response_cdf,
    simulate_electrons,
    smear_parameters,
)

P_MIN = 1e-3  # smallest accepted KS p-value against the exact truth (fixed seeds)
N_FIXED = 200_000
N_B = 1_000_000
COLUMNS = ["gen_pt", "gen_eta", "gen_phi", "detected", "pt", "eta", "phi"]


def within(value: float, expected: float, sigma: float, k: float = 4.0) -> bool:
    """``value`` agrees with ``expected`` within ``k`` standard errors ``sigma``."""
    return abs(value - expected) <= k * sigma


# ---------------------------------------------------------------------------------------------
# The exact formulae (Delphes CMS card, seed paper appendix B)


def test_efficiency_values_and_boundaries() -> None:
    eps = 1e-9
    pt = np.array([0.05, 0.1, 0.1 + eps, 0.5, 1.0, 1.0 + eps, 50.0, 100.0, 100.0 + eps, 1e4])
    np.testing.assert_array_equal(efficiency(pt, 0.0),
                                  [0, 0, 0.73, 0.73, 0.73, 0.95, 0.95, 0.95, 0.99, 0.99])
    np.testing.assert_array_equal(efficiency(pt, -2.0),
                                  [0, 0, 0.50, 0.50, 0.50, 0.83, 0.83, 0.83, 0.90, 0.90])
    eta = np.array([0.0, 1.5, 1.5 + eps, -1.5 - eps, 2.5, -2.5, 2.5 + eps, 4.0])
    np.testing.assert_array_equal(efficiency(5.0, eta), [0.95, 0.95, 0.83, 0.83, 0.83, 0.83, 0, 0])
    assert efficiency(np.ones((2, 3)), np.zeros(3)).shape == (2, 3)


def test_resolution_values_and_cap() -> None:
    eta = np.array([0.0, 0.5, 0.5 + 1e-9, 1.5, 2.0, 2.5])
    want = np.hypot([0.03, 0.03, 0.05, 0.05, 0.15, 0.15],
                    10.0 * np.array([1.3e-3, 1.3e-3, 1.7e-3, 1.7e-3, 3.1e-3, 3.1e-3]))
    np.testing.assert_allclose(resolution(10.0, eta), want, rtol=1e-14)
    assert resolution(0.1, 0.0) == 0.0 and resolution(5.0, 3.0) == 0.0
    # sqrt(0.15^2 + (pT 3.1e-3)^2) passes 1 near pT = 319.0 GeV in the endcap: capped there.
    assert resolution(318.0, 2.0) < 1.0
    np.testing.assert_array_equal(resolution(np.array([320.0, 1e4]), 2.0), [1.0, 1.0])


def test_smear_parameters_give_mean_pt_and_std_res_pt() -> None:
    pt = np.array([0.5, 4.25, 30.0, 500.0])
    eta = np.array([0.2, 2.5, 1.0, 2.0])
    a, b = smear_parameters(pt, eta)
    mean = np.exp(a + b**2 / 2)
    std = mean * np.sqrt(np.expm1(b**2))
    np.testing.assert_allclose(mean, pt, rtol=1e-14)
    np.testing.assert_allclose(std, resolution(pt, eta) * pt, rtol=1e-12)


def test_response_cdf_is_the_log_normal_cdf() -> None:
    pt, eta = DATASET_A[0], DATASET_A[1]
    res = resolution(pt, eta)
    s = math.sqrt(math.log1p(res**2))
    dist = stats.lognorm(s, scale=pt * math.exp(-s * s / 2))
    x = np.linspace(2.0, 7.0, 51)
    np.testing.assert_allclose(response_cdf(x, pt, eta), dist.cdf(x), rtol=1e-12, atol=1e-15)
    assert response_cdf(np.array([0.0]), pt, eta)[0] == 0.0
    np.testing.assert_array_equal(response_cdf(np.array([0.05, 0.1, 0.2]), 0.1, 0.0), [0, 1, 1])


# ---------------------------------------------------------------------------------------------
# Fixed inputs: pT' against the exact response


def lognormal_std_error(std: float, b: float, n: int) -> float:
    """Standard error of the sample std of ``n`` log-normal draws with log-width ``b``."""
    w = math.exp(b * b)
    kurtosis = w**4 + 2 * w**3 + 3 * w**2 - 3  # non-excess kurtosis of the log-normal
    return std * math.sqrt((kurtosis - 1) / (4 * n))


FIXED_POINTS = {
    "dataset A (endcap edge)": DATASET_A,
    "barrel |eta|<0.5": (30.0, 0.3, -2.0),
    "barrel 0.5<|eta|<1.5": (10.0, -1.2, 0.7),
    "low pT ~ 1 GeV, endcap": (0.9, 2.1, 3.0),
    "pT just above 1 GeV, barrel": (1.05, 0.0, 6.0),
    "res capped at 1": (500.0, -2.0, 1.0),
}


@pytest.mark.parametrize("point", FIXED_POINTS.values(), ids=FIXED_POINTS.keys())
def test_fixed_input_response_matches_exact_distribution(point: tuple[float, float, float]) -> None:
    pt0, eta0, phi0 = point
    table = simulate_electrons(N_FIXED, seed=21, fixed=point)
    assert table.names == COLUMNS
    np.testing.assert_array_equal(table["gen_pt"], pt0)
    np.testing.assert_array_equal(table["gen_eta"], eta0)
    np.testing.assert_array_equal(table["gen_phi"], phi0)

    detected = table["detected"] == 1
    eff = float(efficiency(pt0, eta0))
    n_det = int(detected.sum())
    assert within(n_det / N_FIXED, eff, math.sqrt(eff * (1 - eff) / N_FIXED))

    ptr = table["pt"][detected]
    assert stats.kstest(ptr, lambda x: response_cdf(x, pt0, eta0)).pvalue > P_MIN
    res = float(resolution(pt0, eta0))
    b = math.sqrt(math.log1p(res**2))
    assert within(ptr.mean(), pt0, res * pt0 / math.sqrt(n_det))
    assert within(ptr.std(ddof=1), res * pt0, lognormal_std_error(res * pt0, b, n_det))
    # eta and phi are not smeared.
    np.testing.assert_array_equal(table["eta"][detected], eta0)
    np.testing.assert_array_equal(table["phi"][detected], phi0)
    assert np.all(np.isnan(table["pt"][~detected]))


def test_ks_has_power_against_a_wrong_resolution() -> None:
    pt0, eta0, _ = DATASET_A
    table = simulate_electrons(N_FIXED, seed=21, fixed=DATASET_A)
    ptr = table["pt"][table["detected"] == 1]
    # The endcap formula moved to the barrel one: res 0.15 -> 0.05.
    assert stats.kstest(ptr, lambda x: response_cdf(x, pt0, 1.0)).pvalue < 1e-10


def test_fixed_input_checked() -> None:
    for bad in [(0.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (math.nan, 0.0, 0.0), (5.0, math.inf, 0.0),
                (5.0, 0.0, math.nan)]:
        with pytest.raises(FlashgenError, match="--fixed needs a positive pT"):
            simulate_electrons(10, seed=0, fixed=bad)


def test_fixed_input_beyond_acceptance_is_never_detected() -> None:
    table = simulate_electrons(1000, seed=0, fixed=(20.0, 2.6, 0.0))
    assert table["detected"].sum() == 0 and np.all(np.isnan(table["pt"]))


# ---------------------------------------------------------------------------------------------
# Dataset B through the command line (1e6 electrons)


@pytest.fixture(scope="module")
def dataset_b(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run ``flashgen simulate electron --events 1000000 --seed 1`` once, timed."""
    out = tmp_path_factory.mktemp("electron") / "e.parquet"
    start = time.perf_counter()
    code = main(["simulate", "electron", "--events", str(N_B), "--seed", "1", "--out", str(out),
                 "--quiet"])
    seconds = time.perf_counter() - start
    return {"code": code, "seconds": seconds, "path": out, "table": read_table(out)}


def test_one_million_electrons_take_seconds(dataset_b: dict) -> None:
    assert dataset_b["code"] == 0
    # About 1 s on an idle core (simulation and the Parquet write); generous for busy CI.
    assert dataset_b["seconds"] < 15.0, dataset_b["seconds"]
    table = dataset_b["table"]
    assert len(table) == N_B and table.names == COLUMNS
    assert table["detected"].dtype == np.int8
    assert [table.unit(c) for c in COLUMNS] == ["GeV", "", "rad", "", "GeV", "", "rad"]
    assert table.meta["seed"] == 1 and table.meta["dataset"] == "B"
    assert table.meta["command"] == "flashgen simulate electron"


def test_dataset_b_inputs_are_uniform_in_p_eta_phi(dataset_b: dict) -> None:
    t = dataset_b["table"]
    p = t["gen_pt"] * np.cosh(t["gen_eta"])
    assert stats.kstest(p, stats.uniform(0, 20).cdf).pvalue > P_MIN
    assert stats.kstest(t["gen_eta"], stats.uniform(-2.5, 5).cdf).pvalue > P_MIN
    assert stats.kstest(t["gen_phi"], stats.uniform(0, 2 * math.pi).cdf).pvalue > P_MIN
    assert t["gen_pt"].max() <= 20.0 and np.abs(t["gen_eta"]).max() <= 2.5


def test_dataset_b_undetected_rows_are_nan(dataset_b: dict) -> None:
    t = dataset_b["table"]
    detected = t["detected"] == 1
    assert set(np.unique(t["detected"])) == {0, 1}
    for col in ("pt", "eta", "phi"):
        assert np.all(np.isnan(t[col][~detected]))
        assert np.all(np.isfinite(t[col][detected]))
    np.testing.assert_array_equal(t["eta"][detected], t["gen_eta"][detected])
    np.testing.assert_array_equal(t["phi"][detected], t["gen_phi"][detected])
    assert np.all(t["pt"][detected] > 0)


PT_EDGES = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]  # GeV; contains the steps at 0.1 and 1
ETA_EDGES = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]  # |eta|; contains the step at 1.5 (and 2.5)
STEP_VALUES = {(0, False): 0.0, (1, False): 0.73, (2, False): 0.95,
               (0, True): 0.0, (1, True): 0.50, (2, True): 0.83}


def test_dataset_b_efficiency_per_bin(dataset_b: dict) -> None:
    t = dataset_b["table"]
    pt, aeta, det = t["gen_pt"], np.abs(t["gen_eta"]), t["detected"]
    # Bins are closed on the right, like the efficiency formula (pT <= 0.1, |eta| <= 1.5, ...).
    i_pt = np.clip(np.searchsorted(PT_EDGES, pt, side="left") - 1, 0, None)
    i_eta = np.clip(np.searchsorted(ETA_EDGES, aeta, side="left") - 1, 0, None)
    checked = 0
    for i in range(len(PT_EDGES) - 1):
        for j in range(len(ETA_EDGES) - 1):
            sel = (i_pt == i) & (i_eta == j)
            n = int(sel.sum())
            if n < 100:  # pT = p / cosh(eta) <= 20 GeV / cosh(eta): high pT is central only
                continue
            exact = efficiency(pt[sel], t["gen_eta"][sel])
            step = 0 if PT_EDGES[i + 1] <= 0.1 else 1 if PT_EDGES[i + 1] <= 1.0 else 2
            # The bins respect the steps, so the exact efficiency is one constant per bin.
            assert exact.min() == exact.max() == STEP_VALUES[(step, ETA_EDGES[j] >= 1.5)]
            expected = float(exact.mean())
            observed = float(det[sel].mean())
            sigma = math.sqrt(expected * (1 - expected) / n)
            if expected == 0.0:
                assert observed == 0.0
            else:
                assert within(observed, expected, sigma), (PT_EDGES[i], ETA_EDGES[j], observed, expected)
            checked += 1
    assert checked >= 30, checked


def test_dataset_b_response_pit_is_uniform(dataset_b: dict) -> None:
    """Per-event PIT of pT' under its own exact log-normal is uniform over all of dataset B."""
    t = dataset_b["table"]
    det = t["detected"] == 1
    a, b = smear_parameters(t["gen_pt"][det], t["gen_eta"][det])
    u = special.ndtr((np.log(t["pt"][det]) - a) / b)
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    barrel = np.abs(t["gen_eta"][det]) <= 1.5
    for part in (u[barrel], u[~barrel]):
        assert stats.kstest(part, "uniform").pvalue > P_MIN
    # Relative residual (pT' - pT) / (res pT) has mean 0 and variance 1.
    z = (t["pt"][det] - t["gen_pt"][det]) / (resolution(t["gen_pt"][det], t["gen_eta"][det]) * t["gen_pt"][det])
    assert within(z.mean(), 0.0, 1 / math.sqrt(len(z)))
    assert abs(z.var() - 1.0) < 0.02


# ---------------------------------------------------------------------------------------------
# Seeds


def test_same_seed_gives_byte_identical_parquet(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.parquet" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (4, 4, 5)):
        write_table(simulate_electrons(20_000, seed), path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    a, c = read_table(paths[0]), read_table(paths[2])
    assert not np.array_equal(a["gen_pt"], c["gen_pt"])


def test_same_seed_gives_identical_root_columns_and_metadata(tmp_path: Path) -> None:
    # ROOT files embed creation times and UUIDs, so compare contents, not bytes.
    tables = []
    for name in ("a", "b"):
        path = write_table(simulate_electrons(5_000, 9, fixed=DATASET_A), tmp_path / f"{name}.root")
        tables.append(read_table(path))
    a, b = tables
    assert a.names == b.names == COLUMNS
    for col in COLUMNS:
        np.testing.assert_array_equal(a[col], b[col])
    a.meta.pop("source")
    b.meta.pop("source")
    assert a.meta == b.meta and a.meta["fixed"] == list(DATASET_A) and a.columns == b.columns
