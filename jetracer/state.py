"""The drive service's published state (mode, fps, stop reason), read by the OLED display service.

One small JSON file in the runtime directory, replaced atomically, so a reader never sees half a
write and a dead publisher is noticed by the age of the file.
"""
import json
import os
import tempfile
import time
from typing import Any, Dict, Mapping, Optional

from .atomic import atomic_write


def state_path() -> str:
    """``$JETRACER_STATE`` or ``$XDG_RUNTIME_DIR/jetracer/drive_state.json`` (``/tmp`` fallback)."""
    env = os.environ.get("JETRACER_STATE")
    if env:
        return env
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(), "jetracer-%d" % os.getuid())
    return os.path.join(base, "jetracer", "drive_state.json")


def publish_state(state: Mapping[str, Any], path: Optional[str] = None) -> None:
    """Atomically write ``state`` plus a wall-clock ``time`` stamp."""
    path = path or state_path()
    data = dict(state)
    data["time"] = time.time()
    with atomic_write(path, "w", fsync=False) as f:
        json.dump(data, f)


def read_state(max_age_s: float = 5.0, path: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The published state if it is fresher than ``max_age_s``, else ``None`` (no service running)."""
    path = path or state_path()
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or time.time() - float(data.get("time", 0)) > max_age_s:
        return None
    return data
