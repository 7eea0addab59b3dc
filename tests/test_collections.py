"""Reading NanoAOD-like input (flashgen.collections, read_table(collections=...)): jagged collections
flattened to columns and written back, from ROOT and Parquet; the one-line errors; train --collections
then generate --format nanoaod, read by coffea and by flashgen worth."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from flashgen.cli.main import main
from flashgen.collections import PAD, Collection, Collections, flatten, unflatten
from flashgen.data import read_table
from flashgen.errors import FlashgenError

from cli.helpers import assert_user_error, run  # tests/ is on sys.path (rootdir of tests/cli)

EVENTS = 2_000
COFFEA_WARNINGS = pytest.mark.filterwarnings("ignore:Missing cross-reference:RuntimeWarning")


def nanoaod_events(n: int = EVENTS, seed: int = 0) -> dict[str, object]:
    """NanoAOD-like branches: Muon (0-4 per event: pt, eta, phi, mass = 0.10566 as in NanoAOD,
    charge) and Jet (0-6: pt, eta, phi, mass), objects in decreasing pT; per event MET_pt,
    MET_phi, PV_npvs, PV_x/y/z and the event IDs."""
    rng = np.random.default_rng(seed)

    def collection(counts: np.ndarray, muon: bool) -> ak.Array:
        total = int(counts.sum())
        pt = ak.sort(ak.unflatten((5 + rng.exponential(25, total)).astype(np.float32), counts), ascending=False)
        fields = {"pt": pt,
                  "eta": ak.unflatten(rng.uniform(-2.4, 2.4, total).astype(np.float32), counts),
                  "phi": ak.unflatten(rng.uniform(-np.pi, np.pi, total).astype(np.float32), counts)}
        mass = np.full(total, 0.10566) if muon else rng.uniform(2, 20, total)
        fields["mass"] = ak.unflatten(mass.astype(np.float32), counts)
        if muon:
            fields["charge"] = ak.unflatten(rng.choice([-1, 1], total).astype(np.int32), counts)
        return ak.zip(fields)

    return {"run": np.ones(n, np.uint32), "luminosityBlock": np.ones(n, np.uint32),
            "event": np.arange(1, n + 1, dtype=np.uint64),
            "Muon": collection(rng.integers(0, 5, n), muon=True), "Jet": collection(rng.integers(0, 7, n), muon=False),
            "MET_pt": rng.exponential(30, n).astype(np.float32),
            "MET_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32), "PV_npvs": rng.poisson(20, n).astype(np.int32),
            **{f"PV_{x}": rng.normal(0, 0.01 if x != "z" else 4, n).astype(np.float32) for x in "xyz"}}


def write_nanoaod(path: Path, events: dict[str, object]) -> Path:
    """``events`` as a NanoAOD-like ROOT file (uproot: TTree Events, nMuon, Muon_pt[nMuon], ...)."""
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in events.items()},
                 counter_name=lambda name: f"n{name}", field_name=lambda outer, inner: f"{outer}_{inner}")
        f["Events"].extend(events)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The events as a ROOT file (uproot: nMuon, Muon_pt[nMuon], ...) and its Parquet equivalent
    (the same branches, jagged ones as list columns)."""
    folder = tmp_path_factory.mktemp("nano")
    events = nanoaod_events()
    root = write_nanoaod(folder / "nano.root", events)
    with uproot.open(root) as f:
        ak.to_parquet(f["Events"].arrays(library="ak"), folder / "nano.parquet")
    return {"root": root, "parquet": folder / "nano.parquet", "events": events}  # type: ignore[dict-item]


# ---------------------------------------------------------------------------------------------
# The spec


def test_spec_parses_and_prints() -> None:
    spec = Collections.parse("Muon:2, Jet:4:pt+eta")
    assert spec.items == (Collection("Muon", 2), Collection("Jet", 4, ("pt", "eta")))
    assert str(spec) == "Muon:2,Jet:4:pt+eta" and Collections.parse(str(spec)) == spec
    assert spec.items[0].count == "nMuon" and spec.items[0].column(1, "pt") == "Muon_1_pt"


@pytest.mark.parametrize("text, match", [
    ("", "no collection given"),
    ("Muon", "must look like NAME:N"),
    ("Muon:0", "N must be an integer >= 1"),
    ("Muon:-1", "N must be an integer >= 1"),
    ("Muon:two", "N must be an integer >= 1"),
    ("Mu_on:2", "must look like NAME:N"),
    ("Muon:2:pt+pt", "fields must be distinct"),
    ("Muon:2,Muon:3", "given twice"),
])
def test_spec_errors(text: str, match: str) -> None:
    with pytest.raises(FlashgenError, match=match) as err:
        Collections.parse(text)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# Flatten and back


@pytest.mark.parametrize("fmt", ["root", "parquet"])
def test_flatten_then_unflatten_is_exact_for_the_kept_objects(files, fmt: str) -> None:
    table = read_table(files[fmt], collections="Muon:2,Jet:3")
    events = files["events"]
    assert table.names == ["nMuon", *[f"Muon_{i}_{f}" for i in range(2) for f in ("pt", "eta", "phi", "mass", "charge")],
                           "nJet", *[f"Jet_{i}_{f}" for i in range(3) for f in ("pt", "eta", "phi", "mass")],
                           "MET_pt", "MET_phi", "PV_npvs", "PV_x", "PV_y", "PV_z"]  # no event IDs
    assert len(table) == EVENTS and table.meta["collections"] == "Muon:2,Jet:3"
    assert table["nMuon"].dtype == np.int32 and table["Muon_0_charge"].dtype == np.int32
    assert table["Muon_0_pt"].dtype == np.float32 and table["MET_pt"].dtype == np.float32
    np.testing.assert_array_equal(table["nMuon"], ak.num(events["Muon"]))  # the whole count, not min(n, N)
    assert table["nMuon"].max() == 4 and table["nJet"].max() == 6
    # padding: 0 for pt and mass, PAD for the others, exactly where the object is missing
    missing = table["nMuon"] < 2
    assert np.all(table["Muon_1_pt"][missing] == 0) and np.all(table["Muon_1_eta"][missing] == PAD)
    assert np.all(table["Muon_1_charge"][missing] == PAD) and np.all(table["Muon_1_pt"][~missing] > 0)
    assert np.all(table["Jet_2_mass"][table["nJet"] < 3] == 0)
    # units and descriptions
    assert table.unit("Muon_0_pt") == "GeV" and table.unit("Jet_1_phi") == "rad" and table.unit("MET_pt") == "GeV"
    assert "Muon 1" in table.columns["Muon_1_eta"].description and "-10" in table.columns["Muon_1_eta"].description

    back = unflatten(table.data, Collections.parse("Muon:2,Jet:3"))
    for name, n in (("Muon", 2), ("Jet", 3)):
        for field in back[name].fields:
            assert ak.to_list(back[name][field]) == ak.to_list(events[name][field][:, :n])
    assert back["MET_pt"] is not None and "nMuon" not in back and "run" not in back


def test_root_and_parquet_give_the_same_table(files) -> None:
    a = read_table(files["root"], collections="Muon:1:pt+eta,Jet:2")
    b = read_table(files["parquet"], collections="Muon:1:pt+eta,Jet:2")
    assert a.names == b.names and "Muon_0_phi" not in a.names
    for name in a.names:
        np.testing.assert_array_equal(a[name], b[name])


def test_unflatten_drops_objects_beyond_the_count() -> None:
    spec = Collections.parse("Jet:2")
    columns = {"nJet": np.array([0, 1, 2, 5, -1]), "Jet_0_pt": np.array([7.0, 30.0, 40.0, 50.0, 9.0]),
               "Jet_1_pt": np.array([3.0, 4.0, 20.0, 25.0, 8.0]), "member": np.arange(5, dtype=np.int16)}
    out = unflatten(columns, spec)
    assert ak.to_list(out["Jet"].pt) == [[], [30.0], [40.0, 20.0], [50.0, 25.0], []]
    assert out["flashgen_member"].tolist() == [0, 1, 2, 3, 4] and "member" not in out
    with pytest.raises(FlashgenError, match="cannot write collection Muon back: it needs the columns nMuon and "
                                            "Muon_i_FIELD for i < 1, and the table lacks nMuon, Muon_0_\\*"):
        unflatten(columns, Collections.parse("Muon:1"))
    with pytest.raises(FlashgenError, match="the table lacks Jet_2_pt$"):
        unflatten(columns, Collections.parse("Jet:3"))


def test_flatten_takes_arrays_and_derives_counts_from_lists() -> None:
    flat = flatten({"Muon_pt": ak.Array([[30.0], [50.0, 20.0, 5.0], []]), "MET_pt": np.array([1.0, 2.0, 3.0])},
                   Collections.parse("Muon:2"))
    assert flat.data["nMuon"].tolist() == [1, 3, 0]
    assert flat.data["Muon_0_pt"].tolist() == [30.0, 50.0, 0.0] and flat.data["MET_pt"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("spec, match", [
    ("Electron:2", "unknown collection Electron in .*nano.root; collections there: Jet, Muon"),
    ("Muon:2:pt+dxy", "unknown field\\(s\\) dxy of collection Muon in .*; its fields: pt, eta, phi, mass, charge"),
    ("MET:1", "MET is not a collection in .*: its branches MET_pt, MET_phi have one value per event "
              "\\(no counts nMET\\)"),
])
def test_bad_collections_are_one_line_errors(files, spec: str, match: str) -> None:
    with pytest.raises(FlashgenError, match=match) as err:
        read_table(files["root"], collections=spec)
    assert "\n" not in str(err.value)


def test_jagged_input_without_collections_is_refused(files) -> None:
    for fmt in ("root", "parquet"):
        with pytest.raises(FlashgenError, match="holds jagged collections \\(Jet, Muon\\): choose the objects "
                                                "to keep as columns with --collections, e.g. Jet:2,Muon:2"):
            read_table(files[fmt])


def test_a_flat_table_is_read_as_before(tmp_path) -> None:
    from flashgen.data import EventTable, write_table

    path = write_table(EventTable({"x": np.arange(3.0)}), tmp_path / "t.root")
    assert read_table(path).names == ["x"] and "collections" not in read_table(path).meta
    with pytest.raises(FlashgenError, match="unknown collection Muon .*none \\(no jagged branches\\)"):
        read_table(path, collections="Muon:1")


@pytest.mark.parametrize("value, match", [
    ("Muon:0", "argument --collections: collection 'Muon:0': N must be an integer >= 1"),
    ("Electron:1", "unknown collection Electron"),
    ("Muon:1:pt+dxy", "unknown field(s) dxy of collection Muon"),
    ("MET:1", "MET is not a collection"),
])
def test_train_collection_errors(files, tmp_path, capsys, value: str, match: str) -> None:
    assert_user_error(capsys, "train", "--data", files["root"], "--model", "flow", "--steps", "5",
                      "--collections", value, "--out", tmp_path / "m.pt", match=match)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Train, generate back, read with coffea and worth


@pytest.fixture(scope="module")
def models(files, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    common = ["train", "--data", str(files["root"]), "--collections", "Muon:2,Jet:2", "--model", "flow",
              "--batch-size", "256", "--snapshot-every", "25", "-q"]
    assert main([*common, "--steps", "50", "--out", str(folder / "one.pt")]) == 0
    assert main([*common, "--steps", "25", "--ensemble", "4", "--out", str(folder / "ens.pt")]) == 0
    assert main([*common, "--steps", "10", "--features", "Muon_0_pt,MET_pt", "--out", str(folder / "part.pt")]) == 0
    return folder


def _branches(path: Path) -> dict[str, np.ndarray]:
    with uproot.open(path) as f:
        return dict(f["Events"].arrays(library="np")) | {"meta": str(f["flashgen_meta"])}


def test_generate_nanoaod_writes_the_collections_back(models, tmp_path, capsys) -> None:
    from flashgen.models import load_model

    assert load_model(models / "one.pt").info["collections"] == "Muon:2,Jet:2"
    out = tmp_path / "gen.root"
    code, text, _ = run(capsys, "generate", "--model", models / "one.pt", "--events", 500, "--format", "nanoaod",
                        "--out", out)
    assert code == 0 and "500 events" in text and str(out) in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.root"]  # no temporary left behind
    b = _branches(out)
    assert set(b) - {"meta"} == {"run", "luminosityBlock", "event", "MET_pt", "MET_phi", "PV_npvs", "PV_x",
                                 "PV_y", "PV_z", "nMuon", "nJet",
                                 *[f"Muon_{f}" for f in ("pt", "eta", "phi", "mass", "charge")],
                                 *[f"Jet_{f}" for f in ("pt", "eta", "phi", "mass")]}
    assert b["event"].tolist() == list(range(1, 501))
    assert all(len(pt) == n <= 2 for pt, n in zip(b["Muon_pt"], b["nMuon"]))
    assert np.concatenate(b["Muon_pt"]).dtype == np.float32
    meta = json.loads(b["meta"])
    assert meta["collections"] == "Muon:2,Jet:2" and meta["format"] == "nanoaod"
    # read back by itself: the flat columns again, objects beyond the count padded anew
    table = read_table(out)
    assert table.names[:4] == ["nMuon", "Muon_0_pt", "Muon_0_eta", "Muon_0_phi"]
    assert np.all(table["Muon_1_eta"][table["nMuon"] < 2] == PAD)


def test_generate_nanoaod_needs_the_collection_columns(models, tmp_path, capsys) -> None:
    assert_user_error(capsys, "generate", "--model", models / "part.pt", "--events", 10, "--format", "nanoaod",
                      "--out", tmp_path / "g.root", match="cannot write collection Muon back: it needs the columns "
                      "nMuon and Muon_i_FIELD for i < 2, and the table lacks nMuon, Muon_1_pt")
    assert list(tmp_path.iterdir()) == []
    assert main(["generate", "--model", str(models / "part.pt"), "--events", "10", "--out",
                 str(tmp_path / "g.parquet"), "-q"]) == 0  # a table needs no collections


def test_generate_nanoaod_from_an_ensemble_keeps_the_member(models, tmp_path, capsys) -> None:
    out = tmp_path / "ens.root"
    code, _, _ = run(capsys, "generate", "--model", models / "ens.pt", "--events", 2_000, "--format", "nanoaod",
                     "--out", out, "-q")
    assert code == 0
    assert sorted(set(_branches(out)["flashgen_member"].tolist())) == [0, 1, 2, 3]
    assert "member" in read_table(out).names
    code, text, _ = run(capsys, "worth", "--generated", out, "--observable", "MET_pt", "--bins", 5,
                        "--out", tmp_path / "w.json")
    assert code == 0, text
    worth = json.loads((tmp_path / "w.json").read_text())
    assert worth["members"] == 4 and worth["amplification"] is not None


@COFFEA_WARNINGS
def test_coffea_reads_the_generated_collections(models, tmp_path) -> None:
    pytest.importorskip("coffea")
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    out = tmp_path / "gen.root"
    assert main(["generate", "--model", str(models / "one.pt"), "--events", "300", "--format", "nanoaod",
                 "--out", str(out), "-q"]) == 0
    events = NanoEventsFactory.from_root({str(out): "Events"}, schemaclass=NanoAODSchema, mode="eager").events()
    table = read_table(out)
    assert ak.to_list(ak.num(events.Muon.pt)) == np.minimum(table["nMuon"], 2).tolist()
    first = ak.to_numpy(ak.firsts(events.Muon.pt)[table["nMuon"] > 0])
    np.testing.assert_array_equal(first, table["Muon_0_pt"][table["nMuon"] > 0])
    assert ak.to_list(ak.num(events.Jet.mass)) == np.minimum(table["nJet"], 2).tolist()
    np.testing.assert_array_equal(ak.to_numpy(events.MET.pt), table["MET_pt"])
    np.testing.assert_array_equal(ak.to_numpy(events.PV.npvs), table["PV_npvs"])
