"""Automatic per-column preprocessing (flashgen.transforms.auto): the new steps round-trip
exactly, the plan reads each kind of column from its values, overrides, and the acceptance check
of issue 26: a table without a preset trains and generates within each column's support."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from flashgen.data import read_table, write_table
from flashgen.errors import FlashgenError
from flashgen.sources.toys import MixedTable, simulate_toy
from flashgen.transforms import (Angle, AutoPlan, BoundedIntegers, Clip, Constant, DiscreteValues, Peak,
                                 Pipeline, Plan, PointMass, Transform, plan_columns)

EXPECTED = {"pt": "log", "btag": "logit", "eta": "logit", "phi": "angle", "njet": "integer",
            "iso": "point_mass+log", "tight": "integer", "mass": "logit+peak", "weight": "constant"}
"""The kind the plan must choose for each column of the mixed toy."""
KS_MAX = 0.03
POINT_MASS_TOL = 0.01


def tensors(columns) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in columns.items()}


def round_trip(step: Transform, cols: dict[str, torch.Tensor], seed: int = 1) -> tuple[dict, dict]:
    """``(inverse(forward(cols)), the same through state()/from_state)`` after fitting."""
    step.fit(cols)
    z = step.forward(cols, torch.Generator().manual_seed(seed))
    back = step.inverse(dict(z), torch.Generator().manual_seed(seed + 1))
    again = Transform.from_state(step.state())
    z2 = again.forward(cols, torch.Generator().manual_seed(seed))
    for k in z:
        assert torch.equal(z[k], z2[k]), k  # the rebuilt step maps the same way
    return back, again.inverse(dict(z2), torch.Generator().manual_seed(seed + 1))


def exact(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.equal(a, b))


@pytest.fixture(scope="module")
def mixed() -> dict[str, np.ndarray]:
    table = simulate_toy("mixed", 20_000, seed=1)
    return {c: np.asarray(table[c]) for c in table.names}


# ---------------------------------------------------------------------------------------------
# Every new step round-trips exactly, also through state()/from_state


def test_constant_is_dropped_and_restored_exactly() -> None:
    cols = tensors({"w": np.full(50, 1.25), "x": np.arange(50.0)})
    for back in round_trip(Constant("w"), cols):
        assert exact(back["w"], cols["w"]) and exact(back["x"], cols["x"])
    step = Constant("w")
    step.fit(cols)
    assert set(step.forward(cols)) == {"x"}
    with pytest.raises(FlashgenError, match="'x' is not constant"):
        Constant("x").fit(cols)


def test_bounded_integers_round_trip_and_stay_in_range(rng) -> None:
    x = rng.poisson(3.0, 5000).astype(np.float64)
    cols = tensors({"n": x})
    for back in round_trip(BoundedIntegers("n", x.min(), x.max()), cols):
        assert exact(back["n"], cols["n"])
    step = BoundedIntegers("n", x.min(), x.max())
    step.fit(cols)
    wild = step.inverse({"n": torch.randn(10_000, dtype=torch.float64) * 50})["n"]
    assert exact(wild, torch.floor(wild)) and wild.min() >= x.min() and wild.max() <= x.max()
    held = step.forward(tensors({"n": [x.max() + 3]}))["n"]  # beyond the range: clamped, finite
    assert torch.isfinite(held).all()
    with pytest.raises(FlashgenError, match="not integer-valued"):
        BoundedIntegers("n", 0, 10).fit(tensors({"n": [0.5]}))


def test_discrete_values_round_trip() -> None:
    x = np.array([0.5, 0.8, 0.9, 0.8, 0.5, 0.5])
    cols = tensors({"wp": x})
    for back in round_trip(DiscreteValues("wp", [0.9, 0.5, 0.8]), cols):
        assert exact(back["wp"], cols["wp"])
    step = DiscreteValues("wp", [0.5, 0.8, 0.9])
    assert step.forward(tensors({"wp": [0.84, 2.0]}))["wp"].tolist() == [1.0, 2.0]  # nearest
    with pytest.raises(FlashgenError, match="takes values other than"):
        step.fit(tensors({"wp": [0.7]}))


def test_point_mass_round_trip_and_fill(rng) -> None:
    x = np.where(rng.random(4000) < 0.35, 0.0, rng.exponential(0.15, 4000))
    cols = tensors({"iso": x})
    for back in round_trip(PointMass("iso", 0.0), cols):
        assert exact(back["iso"], cols["iso"]) and set(back) == {"iso"}
    z = PointMass("iso", 0.0).forward(cols, torch.Generator().manual_seed(0))
    assert exact(z["iso_at_0"], (cols["iso"] == 0).double())
    assert bool((z["iso"] > 0).all())  # the spike's events hold values of the continuous part


def test_angle_round_trip_and_range(rng) -> None:
    phi = np.concatenate([rng.uniform(-math.pi, math.pi, 2000), [-math.pi, 0.0, math.pi / 2]])
    cols = tensors({"phi": phi})
    for back in round_trip(Angle("phi"), cols):
        assert torch.allclose(back["phi"], cols["phi"], rtol=0, atol=1e-12)
    cols2 = tensors({"phi": rng.uniform(0, 2 * math.pi, 2000)})
    for back in round_trip(Angle("phi", low=0.0), cols2):
        assert torch.allclose(back["phi"], cols2["phi"], rtol=0, atol=1e-12)
    step = Angle("phi")
    wild = step.inverse({"phi_x": torch.randn(5000), "phi_y": torch.randn(5000)})["phi"]
    assert wild.min() >= -math.pi and wild.max() <= math.pi


def test_clip_is_the_identity_inside_and_clamps_outside() -> None:
    cols = tensors({"x": [0.2, 0.5, 0.7]})
    for back in round_trip(Clip("x", 0.2, 0.7), cols):
        assert exact(back["x"], cols["x"])
    assert Clip("x", 0.2, 0.7).inverse(tensors({"x": [-1.0, 2.0]}))["x"].tolist() == [0.2, 0.7]


def test_peak_round_trip_and_compression(rng) -> None:
    x = 91.19 + 1.25 * rng.standard_cauchy(3000)
    cols = tensors({"m": x})
    for back in round_trip(Peak("m", 91.19, 1.25), cols):
        assert torch.allclose(back["m"], cols["m"], rtol=1e-12, atol=1e-12)
    y = Peak("m", 91.19, 1.25).forward(cols)["m"]
    assert y.abs().max() < 12 < np.abs(x - 91.19).max() / 1.25  # tails logarithmic
    with pytest.raises(FlashgenError, match="peak scale must be positive"):
        Peak("m", 0.0, 0.0)


def test_auto_plan_round_trips_the_mixed_table(mixed) -> None:
    cols = tensors(mixed)
    for back in round_trip(AutoPlan(list(mixed)), cols):
        for c in mixed:
            if EXPECTED[c] in ("log", "logit", "logit+peak", "angle", "point_mass+log"):
                assert torch.allclose(back[c], cols[c], rtol=1e-12, atol=1e-12), c
            else:  # integers, point masses and constants come back bit for bit
                assert exact(back[c], cols[c]), c
        assert exact(back["iso"] == 0, cols["iso"] == 0)


def test_fitted_pipeline_survives_the_model_file_format(mixed) -> None:
    """The plan and its steps are plain values: torch.load(weights_only=True) reads them."""
    pipe = Pipeline(list(mixed), [AutoPlan(list(mixed))])
    z = pipe.fit(tensors(mixed), torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    torch.save(pipe.state(), buf)
    buf.seek(0)
    again = Pipeline.from_state(torch.load(buf, weights_only=True))
    a = pipe.inverse(z.double(), generator=torch.Generator().manual_seed(3))
    b = again.inverse(z.double(), generator=torch.Generator().manual_seed(3))
    assert all(exact(a[c], b[c]) for c in mixed)
    json.dumps(again.steps[0].plan)  # plain data, as info["plan"]


def test_any_model_output_lands_in_the_physical_support(mixed) -> None:
    """Whatever the network generates, the plan's inverse respects each column's support."""
    pipe = Pipeline(list(mixed), [AutoPlan(list(mixed))])
    pipe.fit(tensors(mixed), torch.Generator().manual_seed(0))
    z = 3 * torch.randn(50_000, len(pipe.model_columns), dtype=torch.float64)
    out = {k: v.numpy() for k, v in pipe.inverse(z, generator=torch.Generator().manual_seed(1)).items()}
    truth = MixedTable()
    for c in ("btag", "eta", "phi", "tight", "mass", "weight", "iso", "njet", "pt"):
        lo, hi = truth.support[c]
        assert out[c].min() >= lo and out[c].max() <= hi, c
    for c in ("btag", "eta", "mass", "njet", "tight"):  # bounded: within the training range
        assert out[c].min() >= mixed[c].min() and out[c].max() <= mixed[c].max(), c
    for c in truth.integer:
        assert np.array_equal(out[c], np.floor(out[c])), c
    assert np.all(out["weight"] == 1.0) and np.isin(out["tight"], [0.0, 1.0]).all()


# ---------------------------------------------------------------------------------------------
# The plan reads each kind from the values


def test_plan_picks_the_expected_kind_on_every_mixed_column(mixed) -> None:
    plan = plan_columns(mixed)
    assert {c.name: c.kind for c in plan.columns} == EXPECTED
    assert (plan["eta"].params["low"], plan["eta"].params["high"]) == (-2.5, 2.5)
    assert (plan["mass"].params["low"], plan["mass"].params["high"]) == (60.0, 120.0)
    assert "peaked" in plan["mass"].why and "peak" in plan["mass"].params  # a resonance, compressed
    assert all("peak" not in plan[c].params for c in mixed if c != "mass")
    assert (plan["btag"].params["low"], plan["btag"].params["high"]) == (0.0, 1.0)
    assert plan["iso"].params["spikes"] == [0.0] and plan["iso"].params["lower"] == 0.0
    assert plan["weight"].params == {"value": 1.0}


def test_plan_describe_is_one_line_per_column(mixed) -> None:
    lines = plan_columns(mixed).describe().splitlines()
    assert [line.split(":")[0] for line in lines] == list(mixed)
    assert lines[0].startswith("pt: log (positive, skew ")
    assert "iso: point_mass+log (35." in lines[5] and "% at 0; rest: edge at 0" in lines[5]
    assert lines[-1] == "weight: constant (every event = 1)"


def test_plan_rules_on_other_shapes(rng) -> None:
    n = 20_000
    cols = {
        "gauss": rng.normal(5, 2, n),                                   # nothing special
        "met_px": rng.standard_t(2, n) * 10,                            # a peak with heavy tails
        "energy": rng.exponential(30, n),                               # edge at 0, tail
        "dphi_like": rng.uniform(-math.pi, math.pi, n),                 # spans [-π, π], no name
        "wp": rng.choice([0.5, 0.8, 0.9], n),                           # a few values
        "cos_theta": rng.uniform(-1, 1, n) ** 3,                        # within [-1, 1], peaked at 0
        "jet_pt": 30 + rng.exponential(20, n),                          # cut at 30 GeV
        "default": np.where(rng.random(n) < 0.1, -999.0, rng.normal(0, 1, n)),
    }
    plan = plan_columns(cols)
    kinds = {c.name: c.kind for c in plan.columns}
    assert kinds == {"gauss": "standard", "met_px": "standard+peak", "energy": "log", "dphi_like": "angle",
                     "wp": "discrete", "cos_theta": "logit+peak", "jet_pt": "log", "default": "point_mass+standard"}
    assert plan["jet_pt"].params["lower"] == 30.0 and plan["energy"].params["lower"] == 0.0
    assert "peak" in plan["met_px"].params and "peak" not in plan["gauss"].params
    small = plan_columns({"x": rng.normal(0, 1, 50)})  # a small table: no spike, no discreteness
    assert small["x"].kind == "standard"


def test_plan_refuses_non_finite_and_empty_columns() -> None:
    with pytest.raises(FlashgenError, match="column 'x' has NaN/inf values"):
        plan_columns({"x": np.array([1.0, np.nan])})
    with pytest.raises(FlashgenError, match="column 'x' has no values"):
        plan_columns({"x": np.array([])})


# ---------------------------------------------------------------------------------------------
# Overrides


def test_override_changes_the_kind_and_its_steps(mixed) -> None:
    plan = plan_columns(mixed)
    new = plan.override({"iso": "standard", "pt": "logit", "njet": "standard"})
    assert new["iso"].kind == "standard" and new["iso"].why == "override"
    assert [(step.kind, step.low, step.high) for step in new["iso"].steps()] == [("clip", 0.0, None)]  # its edge
    assert new["pt"].kind == "logit" and new["pt"].params["low"] < mixed["pt"].min()
    assert plan["iso"].kind == "point_mass+log"  # the plan itself is unchanged (frozen)
    assert new.override({"iso": "point_mass+standard"})["iso"].params["spikes"] == [0.0]
    assert "peak" not in new.override({"mass": "logit"})["mass"].params
    assert new.override({"pt": "log+peak"})["pt"].params["peak"][0] == pytest.approx(np.log(np.median(mixed["pt"])), abs=1e-6)
    cols = tensors(mixed)
    pipe = Pipeline(list(mixed), new.steps())
    pipe.fit(cols, torch.Generator().manual_seed(0))
    assert "iso_at_0" not in pipe.model_columns and "phi_x" in pipe.model_columns
    assert Plan.from_dict(json.loads(json.dumps(new.as_dict()))) == new


@pytest.mark.parametrize("choice, message", [
    ({"nope": "log"}, "plan override names unknown column(s) 'nope'; columns: pt, btag"),
    ({"pt": "logarithm"}, "plan override has unknown kind(s) 'logarithm' for 'pt'; choose from constant"),
    ({"pt": "integer"}, "column 'pt' cannot be integer: it has non-integer values"),
    ({"pt": "point_mass+log"}, "column 'pt' has no point mass"),
    ({"pt": "constant"}, "column 'pt' cannot be constant"),
    ({"mass": "angle"}, "column 'mass' cannot be an angle"),
    ({"btag": "discrete"}, "column 'btag' cannot be discrete"),
])
def test_override_errors_are_one_clear_message(mixed, choice, message) -> None:
    with pytest.raises(FlashgenError) as err:
        plan_columns(mixed).override(choice)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_auto_plan_takes_overrides_and_refuses_unknown_ones_at_once(mixed) -> None:
    step = AutoPlan(list(mixed), {"mass": "logit", "iso": "standard"})
    step.fit(tensors(mixed))
    plan = step.planned()
    assert (plan["mass"].kind, plan["iso"].kind, plan["pt"].kind) == ("logit", "standard", "log")
    assert Transform.from_state(step.state()).planned() == plan
    with pytest.raises(FlashgenError, match="plan override names unknown column"):
        AutoPlan(["pt"], {"eta": "logit"})
    with pytest.raises(FlashgenError, match="unknown kind"):
        AutoPlan(["pt"], {"pt": "gaussian"})
    with pytest.raises(FlashgenError, match="not fitted"):
        AutoPlan(["pt"]).planned()


# ---------------------------------------------------------------------------------------------
# Acceptance (issue 26): `flashgen train` without a preset, then `flashgen generate`


def ks_exact(sample: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov distance of ``sample`` to an exact CDF, also where the CDF jumps
    (integers, point masses): sup over both one-sided limits at every sample value."""
    xs = np.sort(sample)
    u = np.unique(xs)
    right = np.abs(np.searchsorted(xs, u, "right") / len(xs) - cdf(u))
    left = np.abs(np.searchsorted(xs, u, "left") / len(xs) - cdf(np.nextafter(u, -np.inf)))
    return float(max(right.max(), left.max()))


def test_ks_exact_sees_point_masses() -> None:
    truth = MixedTable()
    sample = truth.sample(20_000, np.random.default_rng(3))
    assert ks_exact(sample["iso"], lambda x: truth.cdf("iso", x)) < 0.015
    assert ks_exact(np.zeros(100), lambda x: truth.cdf("iso", x)) == pytest.approx(0.65)


@pytest.mark.slow
def test_issue_26_no_preset_table_generates_within_support(tmp_path, capsys) -> None:
    from flashgen.cli.main import main

    truth = MixedTable()
    data, model, out = tmp_path / "mixed.parquet", tmp_path / "model.pt", tmp_path / "gen.parquet"
    write_table(simulate_toy("mixed", 20_000, seed=1), data)
    assert main(["train", "--data", str(data), "--model", "flow", "--out", str(model)]) == 0
    assert main(["generate", "--model", str(model), "--events", "20000", "--out", str(out), "--seed", "7"]) == 0
    capsys.readouterr()
    gen, ref = read_table(out), read_table(data)
    rows, failures = [], []
    for c in truth.columns:
        x = np.asarray(gen[c], dtype=np.float64)
        lo, hi = truth.support[c]
        outside = int(np.count_nonzero((x < lo) | (x > hi)))
        if c in truth.integer:
            outside += int(np.count_nonzero(x != np.floor(x)))
        trained = np.asarray(ref[c], dtype=np.float64)
        beyond = int(np.count_nonzero((x < trained.min()) | (x > trained.max())))
        mass = max((abs(np.mean(x == v) - f) for v, f in truth.point_masses().get(c, {}).items()), default=0.0)
        ks, ks_trained = (ks_exact(v, lambda u, c=c: truth.cdf(c, u)) for v in (x, trained))
        rows.append(f"{c}: outside support {outside}, beyond training range {beyond}, "
                    f"point-mass error {mass:.4f}, KS {ks:.4f} (training sample {ks_trained:.4f})")
        if outside or mass > POINT_MASS_TOL or ks > KS_MAX:
            failures.append(c)
    print("\n".join(rows))
    assert not failures, "\n".join(rows)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from([0.0, 1.0, -3.0, 2.5]) | st.floats(-1e6, 1e6, allow_subnormal=False)
                | st.integers(-50, 50).map(float), min_size=1, max_size=400))
def test_any_column_is_planned_and_round_trips(values) -> None:
    """Whatever the values, the plan's steps fit them and give them back (to rounding)."""
    x = np.asarray(values, dtype=np.float64)
    plan = plan_columns({"x": x})
    cols = tensors({"x": x, "row": np.arange(len(x))})  # a constant x needs another column's length
    back = round_trip(AutoPlan(["x"]), cols)[0]["x"]
    assert torch.allclose(back, cols["x"], rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(x).max()))), plan.describe()


def test_train_without_preset_uses_the_plan_and_stores_it(mixed, tmp_path) -> None:
    from flashgen.data import EventTable
    from flashgen.generation import generate_columns
    from flashgen.models import FlashModel
    from flashgen.training import TrainSettings, train

    table = EventTable({c: v[:2000] for c, v in mixed.items()})
    model = train(table, "flow", settings=TrainSettings(steps=5, batch_size=64, snapshot_every=5),
                  config={"transforms": 1, "hidden": (8,)})
    plan = Plan.from_dict(model.info["plan"])
    assert {c.name: c.kind for c in plan.columns} == EXPECTED
    assert plan.describe().splitlines()[-1] == "weight: constant (every event = 1)"
    json.dumps(model.info["plan"])
    again = FlashModel.load(model.save(tmp_path / "m.pt"))
    assert again.info["plan"] == model.info["plan"]
    out = generate_columns(again, 3000, torch.Generator().manual_seed(2))
    assert np.all(out["weight"] == 1.0) and np.isin(out["tight"], [0.0, 1.0]).all()
    assert out["njet"].dtype == np.int64 and out["iso"].min() >= 0
    assert 0 <= out["btag"].min() and out["btag"].max() <= 1


def test_a_lone_upper_edge_is_never_crossed(rng) -> None:
    """A column cut from above only (``5 - exponential``): no log starts from an upper edge, so it
    is standardised and clipped at its training maximum; any network output stays below it."""
    x = 5.0 - rng.exponential(1.0, 20_000)
    plan = plan_columns({"x": x})
    assert plan["x"].kind.startswith("standard") and plan["x"].params["clip"] == [None, x.max()]
    pipe = Pipeline(["x"], [AutoPlan(["x"])])
    pipe.fit({"x": torch.as_tensor(x)}, torch.Generator().manual_seed(0))
    z = torch.linspace(-6, 6, 1001, dtype=torch.float64)[:, None]
    out = pipe.inverse(z, generator=torch.Generator().manual_seed(1))["x"].numpy()
    assert out.max() == x.max() and out.min() < x.min()  # clipped above only
    gauss = plan_columns({"g": rng.normal(5, 2, 20_000)})["g"]
    assert "clip" not in gauss.params  # no edge: nothing to clip


def test_integers_are_calibrated_to_the_training_fractions() -> None:
    """Whatever a model makes of an integer's coordinate, the calibrated cells give each
    integer its training fraction (to the sampling precision), and the map stays monotonic."""
    rng = np.random.default_rng(4)
    x = torch.as_tensor(rng.choice([2.0, 3.0, 5.0], 20_000, p=[0.5, 0.3, 0.2]))  # 4 never occurs
    step = BoundedIntegers("k", 2, 5)
    step.fit({"k": x})
    assert step.fractions == pytest.approx([0.5, 0.3, 0.0, 0.2], abs=0.01)
    assert step.edges is None
    uncalibrated = step.inverse({"k": torch.randn(100_000, dtype=torch.float64)})["k"]
    assert abs(float((uncalibrated == 2).double().mean()) - 0.5) > 0.1  # a wrong model, as is
    step.calibrate(torch.randn(200_000, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
    again = Transform.from_state(step.state())
    y = torch.randn(200_000, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = again.inverse({"k": y})["k"]
    for v, f in ((2, 0.5), (3, 0.3), (4, 0.0), (5, 0.2)):
        assert abs(float((out == v).double().mean()) - step.fractions[v - 2]) < 0.005, v
    order = torch.argsort(y)
    assert bool((torch.diff(out[order]) >= 0).all())  # monotonic: neighbours only
    old = BoundedIntegers("k", 2, 5)  # a step stored before calibration existed maps as before
    state = {k: v for k, v in old.state().items() if k not in ("fractions", "edges", "margin")}
    loaded = Transform.from_state(state)
    assert exact(loaded.inverse({"k": y})["k"], torch.floor(2 + 4 * torch.sigmoid(y)).clamp(2, 5))


def test_training_calibrates_the_point_mass_of_the_plan(mixed) -> None:
    """A briefly trained flow, far from converged, generates each point mass and 0/1 flag with
    its training fraction (flashgen.training.fit.calibrate_integers)."""
    from flashgen.data import EventTable
    from flashgen.generation import generate_columns
    from flashgen.training import TrainSettings, train

    table = EventTable({c: v[:4000] for c, v in mixed.items()})
    model = train(table, "flow", settings=TrainSettings(steps=60, batch_size=256, snapshot_every=60, seed=3),
                  config={"transforms": 2, "hidden": (16,)})
    steps = {s.column: s for s in model.features.steps[0]._built() if isinstance(s, BoundedIntegers)}
    out = generate_columns(model, 100_000, torch.Generator().manual_seed(5))
    iso_zero = steps[PointMass("iso", 0.0).name].fractions[1]  # the indicator's 1: iso exactly 0
    assert 0.3 < iso_zero < 0.4 and steps["tight"].edges is not None
    # the training split's fractions, to the sampling of the 100,000 calibration and generated events
    assert abs(float(np.mean(out["iso"] == 0)) - iso_zero) < 0.006
    assert abs(float(np.mean(out["tight"] == 1)) - steps["tight"].fractions[1]) < 0.006
