"""Seed derivation: one master seed, independent streams for every part of a job.

Every stream of randomness in flashgen (a stage of ``flashgen run``, a generation chunk, a
bootstrap member, a repetition of a study) is seeded by :func:`derive_seed` from the seed the
user gave and an integer key naming the stream, so one seed reproduces the whole job and no two
streams share their numbers.

References:
    O'Neill, "PCG: a family of simple fast space-efficient statistically good algorithms for
    random number generation" (the seed-sequence hashing behind :class:`numpy.random.SeedSequence`).
"""

from __future__ import annotations

import numpy as np

from .errors import FlashgenError

__all__ = ["MAX_SEED", "check_seed", "derive_seed", "seed_sequence"]

MAX_SEED = 2**63
"""Seeds are integers in ``[0, MAX_SEED)`` (they fit a signed 64-bit integer, as torch needs)."""


def check_seed(seed: object) -> int:
    """``seed`` as an int in ``[0, 2**63)``; a clear error otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < MAX_SEED:
        raise FlashgenError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


def seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    """The numpy seed sequence of stream ``key`` of ``seed``: ``SeedSequence(seed, spawn_key=key)``
    (what :meth:`numpy.random.SeedSequence.spawn` makes), for code that spawns further streams
    or seeds a :class:`numpy.random.Generator` directly."""
    return np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key))


def derive_seed(seed: int, *key: int) -> int:
    """An independent 63-bit seed for the stream ``key`` of the master ``seed``.

    Arguments:
        seed: the master seed, in ``[0, 2**63)``.
        key: integers naming the stream, e.g. ``(stage,)``, ``(chunk,)`` or ``(repetition,
            purpose, member)``; different keys give independent seeds.

    Returns:
        An integer in ``[0, 2**63)``: the first two 32-bit words of
        ``SeedSequence(seed, spawn_key=key)``, joined. The key is numpy's spawn key, not extra
        entropy: entropy words are zero-padded, so ``[seed, 1]`` and ``[seed, 1, 0]`` would give
        the same stream, while spawn keys of different lengths do not.
    """
    words = seed_sequence(seed, *key).generate_state(2, np.uint32)
    return int(words[0]) << 31 | int(words[1]) >> 1
