"""Jobs run in spawned processes: the simulator's collection and drives, which are CPU-bound and single-threaded.

Spawned, not forked: a fork would copy torch's and OpenCV's thread pools in an unknown state.
"""
from typing import Any, Callable, List, Sequence


def run_spawned(fn: Callable[[Any], Any], jobs: Sequence[Any], processes: int) -> List[Any]:
    """``[fn(job) for job in jobs]``, in job order, from ``processes`` spawned processes (1: in this one).
    ``fn`` must be a module-level function (spawned processes import it by name)."""
    if processes <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    import multiprocessing
    pool = multiprocessing.get_context("spawn").Pool(min(processes, len(jobs)))
    try:
        results = pool.map(fn, jobs, chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return results
