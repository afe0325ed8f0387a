"""Training frames decoded once and kept in memory after the resize, so an epoch does not decode every JPEG again.

Every transform starts with the same resize to the model input (``augment``'s ``prepare``), so the frame after
it is the same in every epoch: it is decoded once here, within a memory budget, and the random part of the
transform (flip, affine, colour) runs on it each epoch as before, so training sees the same frames bit for
bit. On a CPU the loader runs in the training process, where decoding the 224x224 JPEGs was a twelfth of the
time of training the demo's 64x64 model on them (``jetracer bench training``: x1.08); the more the model is
cheap next to the decode (a GPU), the more it saves. At the model's input size the frames are small (12 KB at
64x64, 150 KB at 224x224). The caches are filled before the loaders start, so forked loader workers share them.
"""
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Optional, Sequence

MAX_CACHE_BYTES = 1 << 30  # at most 1 GiB of frames ...
MEMORY_SHARE = 0.25        # ... and at most a quarter of the memory available when training starts
FALLBACK_BYTES = 256 << 20  # when the available memory cannot be read


class CacheFill(NamedTuple):
    """What :func:`fill_caches` kept: ``frames`` of ``total``, in ``bytes``, within ``budget`` bytes."""

    frames: int
    total: int
    bytes: int
    budget: int


def cache_budget(processes: int = 1) -> int:
    """The bytes of frames one of ``processes`` training processes may keep: a share of the memory available
    now (:data:`MEMORY_SHARE`, at most :data:`MAX_CACHE_BYTES`), split between them."""
    try:
        import psutil
        available = int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - no reading: a small fixed budget
        return FALLBACK_BYTES // max(1, processes)
    return int(min(MAX_CACHE_BYTES, available * MEMORY_SHARE)) // max(1, processes)


def fill_caches(datasets: Sequence[Any], budget: int, threads: Optional[int] = None) -> CacheFill:
    """Decode and prepare the frames of ``datasets`` (``RoadDataset``s, in order: training first) into their
    ``cache`` until ``budget`` bytes are used; ``threads`` decode at once (OpenCV releases the GIL)."""
    total = sum(len(d) for d in datasets)
    used = kept = 0
    with ThreadPoolExecutor(max_workers=max(1, threads or 1)) as pool:
        for d in datasets:
            if not d.cacheable or not len(d):
                continue
            first = d.prepared(0)
            size = first[0].nbytes
            n = min(len(d), max(0, (budget - used) // max(1, size)))
            if n == 0:
                break
            d.cache[0] = first
            for i, item in zip(range(1, n), pool.map(d.prepared, range(1, n))):
                d.cache[i] = item
            used += n * size
            kept += n
    return CacheFill(kept, total, used, budget)
