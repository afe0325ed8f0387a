"""Smoke mode: ``JETRACER_NOTEBOOK_SMOKE=1`` keeps every notebook's long loops short (CI, first try).

Notebooks run top to bottom in CI with this variable set: live loops run a few iterations, training
runs one epoch on a tiny dataset. On the car it is unset and the notebooks behave normally.
"""
import os
from typing import Any, Mapping, Optional


def smoke_mode(env: Optional[Mapping[str, str]] = None) -> bool:
    """True when ``JETRACER_NOTEBOOK_SMOKE`` is set to anything but "", "0", "false" or "no"."""
    env = os.environ if env is None else env
    return env.get("JETRACER_NOTEBOOK_SMOKE", "").strip().lower() not in ("", "0", "false", "no")


def smoke_or(normal: Any, smoke: Any) -> Any:
    """``smoke`` in smoke mode, else ``normal`` (e.g. ``smoke_or(epochs, 1)``)."""
    return smoke if smoke_mode() else normal
