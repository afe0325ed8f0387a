"""The drive service's published state (mode, armed, fps, stop reason), read by the OLED display service.

One small JSON file in the drive service's runtime directory (:mod:`jetracer.runtime`), replaced
atomically without following symlinks. The reader trusts it only when its directory passes the runtime
checks (this user's own, or for root the service user's ``/run/jetracer``), it is a regular file owned
by the directory's owner, reached without following a symlink, and fresh: stamped on this boot's
monotonic clock, not in the future, not older than ``max_age_s``. A dead publisher, a spoofed or
planted file, a foreign directory and a FIFO all read as "not running".
"""
import json
import os
import time
from typing import Any, Dict, Mapping, Optional

from .runtime import RuntimeDirError, find_runtime_file, read_private_file, runtime_dir, write_private_file

STATE_NAME = "drive_state.json"
FUTURE_SLACK_S = 1.0


def boot_id() -> str:
    """This boot's id (monotonic stamps from another boot mean nothing)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def state_path() -> str:
    """Where this process publishes: ``$JETRACER_STATE``, else the runtime directory's ``drive_state.json``."""
    env = os.environ.get("JETRACER_STATE")
    if env:
        return env
    return os.path.join(runtime_dir(), STATE_NAME)


def publish_state(state: Mapping[str, Any], path: Optional[str] = None) -> None:
    """Atomically write ``state`` plus ``time`` (wall clock, for people), ``monotonic`` and ``boot_id`` (for freshness)."""
    path = path or state_path()
    data = dict(state)
    data["time"] = time.time()
    data["monotonic"] = time.monotonic()
    data["boot_id"] = boot_id()
    data["pid"] = os.getpid()
    write_private_file(path, json.dumps(data).encode("utf-8"))


def read_state(max_age_s: float = 5.0, path: Optional[str] = None,
               owner_uid: Optional[int] = None) -> Optional[Dict[str, Any]]:
    """The published state if it is trustworthy and fresher than ``max_age_s``, else ``None`` (no service running).

    ``owner_uid`` (default: the owner of its runtime directory) must own the file. Never blocks: a FIFO
    or device is refused.
    """
    path = path or os.environ.get("JETRACER_STATE") or find_runtime_file(STATE_NAME)
    if not path:
        return None
    try:
        data = json.loads(read_private_file(path, owner_uid).decode("utf-8"))
    except (OSError, ValueError, RuntimeDirError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        stamp = float(data.get("monotonic"))
    except (TypeError, ValueError):
        return None
    age_s = time.monotonic() - stamp
    if data.get("boot_id") != boot_id() or not -FUTURE_SLACK_S <= age_s <= max_age_s:
        return None
    data["age_s"] = max(0.0, age_s)
    return data
