"""NanoAOD-like output (flashgen.nanoaod, sources/zmumu/nanoaod.py): branches, event IDs, float32,
streaming, a coffea round trip and ``flashgen generate --format nanoaod``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import uproot

from flashgen.cli.main import main
from flashgen.data import EventTable, read_table
from flashgen.errors import FlashgenError
from flashgen.nanoaod import NanoAODWriter, branches, write_nanoaod
from flashgen.sources.registry import OBSERVABLES, PROFILES, nanoaod_profile
from flashgen.sources.zmumu.schema import JETS, RECO_COLUMNS
from flashgen.sources.zmumu.physics import MUON_MASS
from flashgen.sources.zmumu.quantities import rotate_to_mu1_frame

from cli.helpers import assert_user_error, run  # tests/ is on sys.path (rootdir of tests/cli)

ZMUMU = PROFILES["zmumu"]

MAPPING = PROFILES["zmumu"].nanoaod
COFFEA_WARNINGS = pytest.mark.filterwarnings("ignore:Missing cross-reference:RuntimeWarning")


def zmumu_table(n: int, seed: int) -> EventTable:
    """A Z→μμ-like table: laboratory frame, on-shell muons with 50 < m(μμ) < 150 GeV (the
    selection window), zero-padded jets. Not physics: random muons, kept inside the window."""
    rng = np.random.default_rng(seed)
    m = 8 * n  # candidates; about a third pass the window
    data: dict[str, np.ndarray] = {}
    for i in (0, 1):
        pt = rng.uniform(20.0, 80.0, m)
        eta, phi = rng.uniform(-2.4, 2.4, m), rng.uniform(-np.pi, np.pi, m)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        data |= {f"mu{i}_px": px, f"mu{i}_py": py, f"mu{i}_pz": pz,
                 f"mu{i}_e": np.sqrt(px**2 + py**2 + pz**2 + MUON_MASS**2)}
    mll = OBSERVABLES["mll"](data)
    keep = np.flatnonzero((mll > 55.0) & (mll < 145.0))[:n]
    assert len(keep) == n
    data = {k: v[keep] for k, v in data.items()}
    data["nvtx"] = rng.poisson(20, n).astype(np.float64)
    data["met_x"], data["met_y"] = rng.normal(0, 15, n), rng.normal(0, 15, n)
    data["iso0"], data["iso1"] = rng.exponential(0.05, n), rng.exponential(0.05, n)
    n_jets = rng.integers(0, 6, n)
    jets = -np.sort(-rng.uniform(10.0, 100.0, (n, 5)), axis=1) * (np.arange(5) < n_jets[:, None])
    for j, name in enumerate(JETS):
        data[name] = jets[:, j]
    return EventTable(data, {c.name: c for c in RECO_COLUMNS}, {"producer": "test"})


# ---------------------------------------------------------------------------------------------
# The mapping and the branches


def _ordered(table: EventTable, name: str) -> np.ndarray:
    """Column ``mu0_NAME`` / ``mu1_NAME`` as (n, 2) in decreasing muon pT (NanoAOD order)."""
    swap = np.hypot(table["mu1_px"], table["mu1_py"]) > np.hypot(table["mu0_px"], table["mu0_py"])
    a, b = table[f"mu0_{name}"], table[f"mu1_{name}"]
    return np.stack([np.where(swap, b, a), np.where(swap, a, b)], axis=1)


def _numpy(values) -> np.ndarray:
    """A jagged awkward array of constant length per event as (n, k) float64, or flat values."""
    import awkward as ak

    return np.asarray(ak.to_numpy(ak.flatten(values) if values.ndim > 1 else values), np.float64)


def test_branches_match_the_four_vectors() -> None:
    import awkward as ak

    table = zmumu_table(500, 1)
    out = branches(table.data, MAPPING, first_event=1)
    mu = out["Muon"]
    assert ak.num(mu, axis=1).tolist() == [2] * 500
    pt, eta, phi, mass = (_numpy(mu[f]).reshape(500, 2) for f in ("pt", "eta", "phi", "mass"))
    assert np.all(pt[:, 0] >= pt[:, 1])
    np.testing.assert_allclose(pt * np.cos(phi), _ordered(table, "px"), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(pt * np.sin(phi), _ordered(table, "py"), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(pt * np.sinh(eta), _ordered(table, "pz"), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(mass, MUON_MASS, rtol=1e-3)  # sqrt(e² - p²) of on-shell muons
    charge = _numpy(mu.charge).reshape(500, 2)  # placeholder: mu0 -1, mu1 +1, in pT order
    swap = pt[:, 0] == np.float32(np.hypot(table["mu1_px"], table["mu1_py"]))
    assert np.array_equal(charge[:, 0], np.where(swap, 1, -1)) and np.all(charge.sum(axis=1) == 0)
    iso = np.stack([table["iso0"], table["iso1"]], axis=1)
    np.testing.assert_allclose(_numpy(mu.pfRelIso03_all).reshape(500, 2),
                               np.where(swap[:, None], iso[:, ::-1], iso), rtol=1e-6)
    jets = table.to_numpy(JETS)
    assert ak.num(out["Jet"], axis=1).tolist() == (jets > 0).sum(axis=1).tolist()
    np.testing.assert_allclose(_numpy(out["Jet"].pt), jets[jets > 0], rtol=1e-6)  # row-major order
    for f in ("eta", "phi", "mass"):
        assert np.all(_numpy(out["Jet"][f]) == 0)
    np.testing.assert_allclose(_numpy(out["MET"].pt), np.hypot(table["met_x"], table["met_y"]), rtol=1e-6)
    np.testing.assert_allclose(_numpy(out["MET"].phi), np.arctan2(table["met_y"], table["met_x"]),
                               rtol=1e-6, atol=1e-6)
    assert np.array_equal(_numpy(out["PV"].npvs), table["nvtx"])


def test_types_and_event_ids() -> None:
    out = branches(zmumu_table(10, 2).data, MAPPING, first_event=41)
    assert out["run"].dtype == np.uint32 and set(out["run"]) == {1}
    assert out["luminosityBlock"].dtype == np.uint32 and set(out["luminosityBlock"]) == {1}
    assert out["event"].dtype == np.uint64 and out["event"].tolist() == list(range(41, 51))
    for name in ("pt", "eta", "phi", "mass", "pfRelIso03_all"):
        assert str(out["Muon"][name].type.content.content) == "float32"
    assert str(out["Muon"].charge.type.content.content) == "int32"
    for name in ("pt", "eta", "phi", "mass"):
        assert str(out["Jet"][name].type.content.content) == "float32"
    assert str(out["MET"].pt.type.content) == "float32"
    assert str(out["PV"].npvs.type.content) == "int32"


def test_simulated_charges_and_the_analysis_frame_are_used() -> None:
    table = zmumu_table(50, 3)
    data = dict(table.data)
    data["mu0_charge"], data["mu1_charge"] = np.ones(50, np.int8), -np.ones(50, np.int8)
    out = MAPPING(data)
    lead0 = np.asarray(out["Muon"].pt[:, 0]) == np.hypot(table["mu0_px"], table["mu0_py"])
    assert np.array_equal(np.asarray(out["Muon"].charge[:, 0]), np.where(lead0, 1, -1))
    rotated = MAPPING(rotate_to_mu1_frame(table))  # no mu1_py: read as 0
    np.testing.assert_allclose(np.asarray((out["Muon"].pt)), np.asarray(rotated["Muon"].pt), rtol=1e-12)


def test_the_zmumu_profile_is_chosen_and_other_tables_are_refused() -> None:
    assert nanoaod_profile(zmumu_table(5, 0).names).name == "zmumu"
    assert nanoaod_profile([c.name for c in RECO_COLUMNS if c.name != "mu1_py"]).name == "zmumu"
    with pytest.raises(FlashgenError, match=r"NanoAOD mapping \(zmumu\); this one has columns x$"):
        nanoaod_profile(["x"])
    with pytest.raises(FlashgenError, match="iso1"):
        MAPPING({n: np.zeros(3) for n in zmumu_table(3, 0).names if n != "iso1"})


# ---------------------------------------------------------------------------------------------
# Writing


def test_streamed_file_equals_one_chunk_and_numbers_events(tmp_path) -> None:
    table = zmumu_table(103, 4)
    write_nanoaod(table, tmp_path / "one.root", profile=ZMUMU)
    write_nanoaod(table, tmp_path / "many.root", profile=ZMUMU, chunk_size=10)
    with uproot.open(tmp_path / "one.root") as a, uproot.open(tmp_path / "many.root") as b:
        ta, tb = a["Events"], b["Events"]
        expected = {"run", "luminosityBlock", "event", "nMuon", "nJet", "MET_pt", "MET_phi",
                    "PV_npvs", *(f"Muon_{f}" for f in ("pt", "eta", "phi", "mass", "charge",
                                                       "pfRelIso03_all")),
                    *(f"Jet_{f}" for f in ("pt", "eta", "phi", "mass"))}
        assert expected <= set(ta.keys()) and ta.keys() == tb.keys()
        assert tb.num_entries == 103 and tb["event"].array(library="np").tolist() == list(range(1, 104))
        for key in ta.keys():
            assert ta[key].array().tolist() == tb[key].array().tolist(), key
        assert ta["Muon_pt"].interpretation.content.to_dtype == np.float32
        assert tb["event"].array(library="np").dtype == np.uint64
        assert '"nanoaod_source": "zmumu"' in str(a["flashgen_meta"])


def test_writes_are_atomic_and_checked(tmp_path) -> None:
    with pytest.raises(FlashgenError, match="must end in .root"):
        NanoAODWriter(tmp_path / "x.parquet", zmumu_table(3, 0).names, profile=ZMUMU)
    with pytest.raises(FlashgenError):
        NanoAODWriter(tmp_path / "x.root", ["x", "y"], profile=ZMUMU)
    with pytest.raises(RuntimeError):
        with NanoAODWriter(tmp_path / "x.root", zmumu_table(3, 0).names, profile=ZMUMU) as w:
            w.write(zmumu_table(3, 0))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with NanoAODWriter(tmp_path / "empty.root", zmumu_table(3, 0).names, profile=ZMUMU):
        pass
    with uproot.open(tmp_path / "empty.root") as f:
        assert f["Events"].num_entries == 0 and "Muon_pt" in f["Events"]


@COFFEA_WARNINGS
def test_coffea_reads_the_same_dimuon_mass(tmp_path) -> None:
    pytest.importorskip("coffea")
    import awkward as ak
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    table = zmumu_table(400, 5)
    write_nanoaod(table, tmp_path / "events.root", profile=ZMUMU, chunk_size=150)
    events = NanoEventsFactory.from_root({str(tmp_path / "events.root"): "Events"},
                                         schemaclass=NanoAODSchema, mode="eager").events()
    mll = np.asarray((events.Muon[:, 0] + events.Muon[:, 1]).mass, dtype=np.float64)
    np.testing.assert_allclose(mll, OBSERVABLES["mll"](table), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(events.MET.pt), np.hypot(table["met_x"], table["met_y"]), rtol=1e-6)
    assert np.asarray(events.event).tolist() == list(range(1, 401))
    assert np.asarray(events.PV.npvs).tolist() == table["nvtx"].astype(int).tolist()
    assert np.asarray(ak.sum(events.Muon.charge, axis=1)).tolist() == [0] * 400


# ---------------------------------------------------------------------------------------------
# The command line


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A tiny zmumu-preset flow (20 steps) and a camel-back model."""
    from flashgen.training import TrainSettings, train

    d = tmp_path_factory.mktemp("models")
    train(zmumu_table(600, 6), "flow", preset="zmumu",
          settings=TrainSettings(steps=20, batch_size=64, snapshot_every=20)).save(d / "zmumu.pt")
    assert main(["simulate", "camelback", "--events", "200", "--out", str(d / "c.parquet"), "-q"]) == 0
    assert main(["train", "--data", str(d / "c.parquet"), "--model", "flow", "--preset", "camelback",
                 "--steps", "10", "--out", str(d / "camel.pt"), "-q"]) == 0
    return d


def test_generate_nanoaod(models, tmp_path, capsys) -> None:
    code, out, _ = run(capsys, "generate", "--model", models / "zmumu.pt", "--events", 250,
                       "--chunk-size", 100, "--format", "nanoaod", "--out", tmp_path / "g.root")
    assert code == 0 and "250 events" in out
    with uproot.open(tmp_path / "g.root") as f:
        tree = f["Events"]
        assert tree.num_entries == 250
        assert {"run", "luminosityBlock", "event", "nMuon", "Muon_pt", "Muon_charge", "nJet",
                "Jet_pt", "MET_pt", "PV_npvs"} <= set(tree.keys())
        assert tree["event"].array(library="np").tolist() == list(range(1, 251))
        assert set(tree["nMuon"].array(library="np")) == {2}
        assert np.all(np.isfinite(np.concatenate(tree["Muon_eta"].array(library="np"))))
    # the default is unchanged: the model's columns
    assert main(["generate", "--model", str(models / "zmumu.pt"), "--events", "20",
                 "--out", str(tmp_path / "t.root"), "-q"]) == 0
    assert "mu0_px" in read_table(tmp_path / "t.root").names


@pytest.mark.parametrize("model, out, match", [
    ("zmumu.pt", "g.parquet", "--format nanoaod writes a ROOT file: give --out NAME.root"),
    ("camel.pt", "g.root", "needs a table of a source with a NanoAOD mapping (zmumu); this one has columns x"),
])
def test_generate_nanoaod_errors(models, tmp_path, capsys, model, out, match) -> None:
    assert_user_error(capsys, "generate", "--model", models / model, "--events", 10, "--format",
                      "nanoaod", "--out", tmp_path / out, match=match)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("pythia8mc") is None, reason="needs flashgen[zmumu]")
def test_simulate_zmumu_nanoaod(tmp_path) -> None:
    out = tmp_path / "dy"
    assert main(["simulate", "zmumu", "--events", "60", "--pileup", "0", "--seed", "2", "--out",
                 str(out), "--format", "nanoaod", "-q"]) == 0
    table = read_table(out)
    with uproot.open(out / "nanoaod.root") as f:
        tree = f["Events"]
        assert tree.num_entries == len(table)
        charge = tree["Muon_charge"].array(library="np")
        assert all(sorted(c.tolist()) == [-1, 1] for c in charge)
        np.testing.assert_allclose(tree["PV_npvs"].array(library="np"), table["nvtx"])
