"""Source profiles: every built-in source declares itself once; lookups and registries."""

from __future__ import annotations

import numpy as np
import pytest

from flashgen.errors import FlashgenError
from flashgen.sources.registry import (OBSERVABLES, PRESETS, PROFILES, SLICINGS, Preset, Profile,
                                      align_frames, get_preset, quantity, register_profile, truths)


def test_built_in_sources_are_registered() -> None:
    assert {"camelback", "ring", "electron", "zmumu"} <= set(PROFILES)
    assert {"camelback", "electron", "zmumu"} <= set(PRESETS)
    assert {"mll", "njet15", "pt_response"} <= set(OBSERVABLES)
    assert {"nvtx", "gen_pt", "abs_gen_eta"} <= set(SLICINGS)
    assert {"camelback", "ring", "electron-A"} <= set(truths())


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_are_consistent_with_their_columns(name: str) -> None:
    """What a profile declares refers only to columns the source writes."""
    profile = PROFILES[name]
    columns = {c.name for c in profile.columns}
    assert columns and all(c.unit is not None for c in profile.columns)
    for o in profile.observables:
        assert set(o.requires) <= columns, o.name
    for s in profile.slicings:
        assert set(s.requires) <= columns, s.name
    for p in profile.presets:
        assert set(p.features) | set(p.conditions) <= columns, p.name
        assert p.efficiency is None or p.efficiency in columns


def test_quantity_reads_columns_and_derived_quantities_for_numpy_and_torch() -> None:
    import torch

    ev = {"mu0_px": np.array([45.0]), "mu0_py": np.array([0.0]), "mu0_pz": np.array([0.0]),
          "mu0_e": np.array([45.0]), "mu1_px": np.array([-45.0]), "mu1_py": np.array([0.0]),
          "mu1_pz": np.array([0.0]), "mu1_e": np.array([45.0])}
    assert quantity("mll", ev)[0] == pytest.approx(90.0)
    assert quantity("mu0_px", ev) is ev["mu0_px"]
    t = {k: torch.tensor(v, requires_grad=True) for k, v in ev.items()}
    m = quantity("mll", t)
    m.sum().backward()  # differentiable: the GAN's regression terms use it
    assert float(m.detach()) == pytest.approx(90.0) and t["mu0_e"].grad is not None
    with pytest.raises(FlashgenError, match="unknown quantity 'nope'"):
        quantity("nope", ev)


def test_preset_lookup_and_validation() -> None:
    assert get_preset("zmumu").selection == ("mll", "met_phi", "iso1")
    with pytest.raises(FlashgenError, match="unknown preset 'nope'; choose from camelback"):
        get_preset("nope")
    with pytest.raises(FlashgenError, match="val_fraction"):
        Preset("bad", ("x",), val_fraction=1.0)
    with pytest.raises(FlashgenError, match="both feature and condition"):
        Preset("bad", ("x",), conditions=("x",))


def test_a_name_is_registered_once() -> None:
    with pytest.raises(FlashgenError, match="already registered"):
        register_profile(Profile("zmumu", "again"))
    with pytest.raises(FlashgenError, match="already registered"):
        register_profile(Profile("new-source", "reuses a preset name", presets=(PRESETS["zmumu"],)))
    PROFILES.pop("new-source", None)


def test_align_frames_asks_every_profile() -> None:
    from flashgen.data import EventTable

    toy = EventTable({"x": np.zeros(3)})
    ref, gen, notes = align_frames(toy, toy)
    assert ref is toy and gen is toy and notes == []
