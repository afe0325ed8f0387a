"""Shared fixtures for learning tests: a tiny synthetic road-following dataset in upstream layout.

``make_tiny_dataset(root, ...)`` draws a grey road narrowing towards a far point on a green field;
the label is that far point, so even a small model trained for a few epochs learns it.
``tiny_dataset`` is one such dataset (8 sessions x 8 frames of 64x64, category ``apex``, with
``index.jsonl``) built once per test session: treat it as read-only, copy it to modify it.
"""
import os
import shutil

import cv2
import numpy as np
import pytest

from jetracer.dataset import DatasetWriter

cv2.setNumThreads(1)


def draw_road(rng: np.random.RandomState, width: int = 64, height: int = 64):
    """(BGR frame, u, v): a road from the bottom edge to its far point (u, v), which is the label."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = (40 + rng.randint(0, 30), 120 + rng.randint(0, 40), 40 + rng.randint(0, 30))
    frame = cv2.add(frame, rng.randint(0, 25, size=frame.shape).astype(np.uint8))
    u = int(rng.randint(width // 8, width - width // 8))
    v = int(rng.randint(height // 5, height // 2))
    bottom = width / 2.0 + rng.uniform(-0.1, 0.1) * width
    half = width * rng.uniform(0.3, 0.4)
    road = np.array([[bottom - half, height - 1], [bottom + half, height - 1], [u + 1, v], [u - 1, v]], np.int32)
    grey = int(rng.randint(90, 140))
    cv2.fillConvexPoly(frame, road, (grey, grey, grey))
    cv2.line(frame, (int(bottom), height - 1), (u, v), (230, 230, 230), 1)
    return frame, u, v


def make_tiny_dataset(root: str, sessions: int = 8, frames_per_session: int = 8, size=(64, 64),
                      category: str = "apex", index: bool = True, seed: int = 0) -> str:
    """Write a synthetic dataset at ``root``; ``index=False`` writes bare upstream files (no index.jsonl)."""
    rng = np.random.RandomState(seed)
    folder = os.path.join(str(root), category)
    os.makedirs(folder, exist_ok=True)
    for s in range(sessions):
        writer = DatasetWriter(str(root), category, session="synthetic-%02d" % s, source="synthetic") if index else None
        for k in range(frames_per_session):
            frame, u, v = draw_road(rng, size[1], size[0])
            if writer is not None:
                writer.save(frame, u, v)
            else:
                cv2.imwrite(os.path.join(folder, "%d_%d_s%02d-%03d.jpg" % (u, v, s, k)), frame)
    return str(root)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> str:
    """Path of a read-only 64-frame synthetic dataset (8 sessions, 64x64, category apex)."""
    return make_tiny_dataset(str(tmp_path_factory.mktemp("tiny_dataset") / "road"))


@pytest.fixture
def tiny_dataset_copy(tiny_dataset, tmp_path) -> str:
    """A private copy of ``tiny_dataset`` that a test may modify."""
    dst = str(tmp_path / "road")
    shutil.copytree(tiny_dataset, dst)
    return dst


@pytest.fixture(name="make_tiny_dataset")
def make_tiny_dataset_fixture():
    """The generator itself, for tests that need another shape: ``make_tiny_dataset(root, ...)``."""
    return make_tiny_dataset
