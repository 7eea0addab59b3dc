"""Synthetic, realistic-looking Z→μμ tables with the exact column names of the reference dataset.

Not a physics simulation: a fast stand-in (1e5 events in well under a second) with the features
that matter for validation — a Breit-Wigner dimuon mass peak, a Z recoiling against a jet,
pileup-dependent MET resolution and isolation, a Poisson nvtx and zero-padded jet pT — so the
validation can be exercised and timed before real Z→μμ data exist.
"""

from __future__ import annotations

import numpy as np

from flashgen.data import EventTable
from flashgen.sources.zmumu.schema import RECO_COLUMNS

MZ, GAMMA_Z = 91.1876, 2.4952  # GeV (PDG)


def _breit_wigner(rng: np.random.Generator, n: int, lo: float = 60.0, hi: float = 120.0) -> np.ndarray:
    cdf = lambda m: 0.5 + np.arctan(2.0 * (m - MZ) / GAMMA_Z) / np.pi  # noqa: E731
    u = rng.uniform(cdf(lo), cdf(hi), n)
    return MZ + 0.5 * GAMMA_Z * np.tan(np.pi * (u - 0.5))


def _boost(e: np.ndarray, p: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boost four-vectors (e, p) of shape (n,), (n, 3) by velocities b of shape (n, 3)."""
    b2 = np.sum(b**2, axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(b * p, axis=1)
    factor = np.where(b2 > 0, (gamma - 1.0) * bp / np.where(b2 > 0, b2, 1.0), 0.0) + gamma * e
    return gamma * (e + bp), p + factor[:, None] * b


def make_zmumu(n: int, seed: int, *, muon_scale: float = 1.0, met_scale: float = 1.0,
               iso_scale: float = 1.0, analysis_frame: bool = False) -> EventTable:
    """A Z→μμ-like table of ``n`` selected events in the laboratory frame.

    Arguments:
        n: events.
        seed: numpy seed.
        muon_scale: multiplies every muon momentum (shifts m(μμ) by the same factor).
        met_scale: multiplies the missing momentum.
        iso_scale: multiplies the isolation.
        analysis_frame: rotate so that μ1 has py = 0 and drop ``mu1_py``.
    """
    rng = np.random.default_rng(seed)
    parts, have = [], 0
    while have < n:
        part = _events(rng, 2 * (n - have) + 100, muon_scale, met_scale, iso_scale)
        parts.append(part)
        have += len(part["nvtx"])
    data = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
    meta = {"producer": "tests/validation/validation_synthetic.py", "seed": seed,
            "muon_scale": muon_scale, "met_scale": met_scale}
    table = EventTable(data, {c.name: c for c in RECO_COLUMNS}, meta)
    if analysis_frame:
        from flashgen.sources.zmumu.quantities import rotate_to_mu1_frame

        table = rotate_to_mu1_frame(table)
    return table


def _events(rng: np.random.Generator, n: int, muon_scale: float, met_scale: float,
            iso_scale: float) -> dict[str, np.ndarray]:
    """``n`` candidate events, of which those passing the muon selection are returned."""
    mass = _breit_wigner(rng, n)
    pt_z = rng.gamma(1.3, 7.0, n) + (rng.random(n) < 0.15) * rng.exponential(30.0, n)
    y = rng.normal(0.0, 1.6, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mt = np.hypot(mass, pt_z)
    pz_vec = np.stack([pt_z * np.cos(phi), pt_z * np.sin(phi), mt * np.sinh(y)], axis=1)
    e_z = mt * np.cosh(y)

    cos_t = rng.uniform(-1.0, 1.0, n)
    phi_s = rng.uniform(-np.pi, np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    pstar = 0.5 * mass
    d = np.stack([sin_t * np.cos(phi_s), sin_t * np.sin(phi_s), cos_t], axis=1) * pstar[:, None]
    b = pz_vec / e_z[:, None]
    _, p_a = _boost(pstar, d, b)
    _, p_b = _boost(pstar, -d, b)
    p_a *= (muon_scale * (1.0 + 0.015 * rng.standard_normal(n)))[:, None]
    p_b *= (muon_scale * (1.0 + 0.015 * rng.standard_normal(n)))[:, None]
    lead = np.hypot(p_a[:, 0], p_a[:, 1]) >= np.hypot(p_b[:, 0], p_b[:, 1])
    mu0 = np.where(lead[:, None], p_a, p_b)
    mu1 = np.where(lead[:, None], p_b, p_a)

    nvtx = rng.poisson(18.0, n) + 1
    sigma_met = np.sqrt(4.0**2 + 0.7**2 * nvtx)
    met_x = met_scale * (-0.1 * pz_vec[:, 0] + sigma_met * rng.standard_normal(n))
    met_y = met_scale * (-0.1 * pz_vec[:, 1] + sigma_met * rng.standard_normal(n))

    def isolation() -> np.ndarray:
        zero = rng.random(n) < 0.6 * np.exp(-nvtx / 15.0)
        return iso_scale * np.where(zero, 0.0, rng.exponential(0.01 + 0.002 * nvtx))

    iso0, iso1 = isolation(), isolation()

    cand = np.zeros((n, 8))
    cand[:, 0] = pt_z * (1.0 + 0.15 * rng.standard_normal(n)) + 3.0 * rng.standard_normal(n)
    n_extra = rng.poisson(0.3 + 0.04 * nvtx)
    extra = 10.0 + rng.exponential(8.0, (n, 7))
    cand[:, 1:] = np.where(np.arange(7)[None, :] < n_extra[:, None], extra, 0.0)
    cand = np.where(cand > 10.0, cand, 0.0)
    jets = -np.sort(-cand, axis=1)[:, :5]

    data = {
        "mu0_px": mu0[:, 0], "mu0_py": mu0[:, 1], "mu0_pz": mu0[:, 2],
        "mu0_e": np.linalg.norm(mu0, axis=1),
        "mu1_px": mu1[:, 0], "mu1_py": mu1[:, 1], "mu1_pz": mu1[:, 2],
        "mu1_e": np.linalg.norm(mu1, axis=1),
        "nvtx": nvtx.astype(np.int64), "met_x": met_x, "met_y": met_y,
        "iso0": iso0, "iso1": iso1,
        **{f"jet{i}_pt": jets[:, i - 1] for i in range(1, 6)},
    }
    # selection as in the reference: two muons with pT > 10 GeV and |eta| < 2.4
    pt1 = np.hypot(mu1[:, 0], mu1[:, 1])
    eta0 = np.arcsinh(mu0[:, 2] / np.hypot(mu0[:, 0], mu0[:, 1]))
    eta1 = np.arcsinh(mu1[:, 2] / pt1)
    keep = (pt1 > 10.0) & (np.abs(eta0) < 2.4) & (np.abs(eta1) < 2.4)
    return {k: v[keep] for k, v in data.items()}
