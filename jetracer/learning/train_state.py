"""The resume state of a training run (``<out>.partial``): what it holds, how it is written, read back and
checked, so that ``resume=True`` continues a killed run to the checkpoint an uninterrupted run writes.

It holds the weights, optimizer, scheduler and scaler states, the best epoch so far, the history and every
RNG state (Python, NumPy, torch and the loaders' generators), and the options that decide what is trained
(:func:`run_options`): a run resumed with other options, or on other frames, is refused.
"""
import os
import random
from typing import Any, Dict, Sequence

import numpy as np
import torch

from ..atomic import atomic_write
from ..dataset import shown_path
from ..pilot.checkpoint import plain_data
from .train_options import TRAIN, TrainError, TrainOptions, option_flag
from .train_output import partial_path

STATE_FORMAT = "jetracer.train_state"
STATE_EVERY_S = 30.0  # the resume state is rewritten after the first epoch, a stop, and then at most this often:
#                       a 25-frame fine-tune makes 300 one-step epochs, and each state is ~135 MB written with fsync
# options a resumed run may change: where and how fast it runs, not what it trains
RESUME_FREE = ("device", "workers", "threads", "progress", "info", "epoch_dir", "frame_cache")


def run_options(opt: TrainOptions, dataset_dirs: Sequence[str]) -> Dict[str, Any]:
    """What a resumed run must share with the run it continues (JSON-like): the options that decide
    what is trained, and the dataset folders."""
    keep = dict((k, v) for k, v in opt._asdict().items() if k not in RESUME_FREE)
    keep["dataset_dirs"] = [os.path.abspath(d) for d in dataset_dirs]
    return plain_data(keep)


def load_resume_state(out: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """The resume state of the run writing ``out``; TrainError when it is not one, or when it was started
    with other ``options`` (``run_options``), naming each option that differs."""
    from ..pilot.safe_load import torch_load
    path = partial_path(out)
    try:
        state = torch_load(path, map_location="cpu")
    except Exception as e:  # a truncated or foreign file
        raise TrainError("--resume: cannot read the resume state %s (%s); train afresh with --force"
                         % (shown_path(path), str(e).splitlines()[0] if str(e) else type(e).__name__))
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise TrainError("--resume: %s is not a jetracer resume state; train afresh with --force" % shown_path(path))
    then = dict(state.get("options") or {})
    for key in set(options) - set(then):  # an option added since that run started: it ran at the default
        if key in TRAIN:
            then[key] = plain_data(TRAIN[key].default)
    differ = ["%s (%s then, %s now)" % (option_flag(k), _shown_value(then.get(k)), _shown_value(options.get(k)))
              for k in sorted(set(then) | set(options)) if then.get(k) != options.get(k)]
    if differ:
        raise TrainError("--resume: the run in %s was started with other options: %s; resume with the same options, "
                         "or start afresh with --force" % (shown_path(path), "; ".join(differ)))
    return state


def _shown_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_shown_value(v) for v in value)
    return "default" if value is None else str(value)


def rng_state(generators: Sequence[torch.Generator]) -> Dict[str, Any]:
    """Every random state training draws from: Python's, NumPy's, torch's and the loaders' ``generators``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}


def set_rng_state(saved: Dict[str, Any], generators: Sequence[torch.Generator]) -> None:
    """Put back what :func:`rng_state` saved, so the next epoch draws what it drew in the killed run."""
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = saved["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(saved["torch"])
    for g, s in zip(generators, saved["generators"]):
        g.set_state(s)


def scheduler_state(scheduler: Any) -> Dict[str, Any]:
    """``scheduler.state_dict()`` without what cannot be saved: older torch keeps the annealing function
    (a bound method) in it, and the constructor rebuilds that."""
    return dict((k, v) for k, v in scheduler.state_dict().items() if not callable(v))


def save_state(path: str, state: Dict[str, Any]) -> None:
    """Write ``state`` at ``path`` atomically: a kill while writing leaves the previous state."""
    with atomic_write(path) as f:
        torch.save(state, f)
