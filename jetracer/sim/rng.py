"""Random streams of the simulator, derived from one integer seed.

Each episode gets three independent numpy Generators (``episode``: appearance and camera geometry,
``frame``: per-frame photometric noise, ``dynamics``: start pose and expert perturbations), spawned
from ``SeedSequence(seed, spawn_key=(episode_index,))``. Episode ``k`` of seed ``s`` is therefore
the same whatever happened in episodes ``0..k-1`` (their length, how many frames they rendered).
"""
from typing import NamedTuple

import numpy as np

Streams = NamedTuple("Streams", [("episode", np.random.Generator), ("frame", np.random.Generator),
                                 ("dynamics", np.random.Generator)])


def episode_streams(seed: int, episode: int) -> Streams:
    """The three random streams of episode ``episode`` (>= 0) of seed ``seed`` (>= 0)."""
    if seed < 0 or episode < 0:
        raise ValueError("seed and episode must be >= 0, got seed=%r episode=%r" % (seed, episode))
    root = np.random.SeedSequence(int(seed), spawn_key=(int(episode),))
    a, b, c = root.spawn(3)
    return Streams(np.random.default_rng(a), np.random.default_rng(b), np.random.default_rng(c))
