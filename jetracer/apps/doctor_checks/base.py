"""What every doctor check shares: the :class:`Finding` it returns, the :class:`Context` it reads, :class:`Check`."""
import os
from typing import Any, Callable, Dict, Optional

from .probe import read_text

STATUSES = ("ok", "warning", "fail", "skipped")
DEFAULT_CHECK_TIMEOUT_S = 60.0


class Finding(object):
    """One line of the doctor's report: ``name``, ``status`` (one of :data:`STATUSES`), ``finding``, ``fix``."""

    def __init__(self, name: str, status: str, finding: str, fix: str = "") -> None:
        if status not in STATUSES:
            raise ValueError("status must be one of %s, got %r" % (", ".join(STATUSES), status))
        self.name = name
        self.status = status
        self.finding = " ".join(str(finding).split())
        self.fix = " ".join(str(fix).split())

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "status": self.status, "finding": self.finding, "fix": self.fix}

    def __repr__(self) -> str:
        return "Finding(%r, %r, %r, fix=%r)" % (self.name, self.status, self.finding, self.fix)


class Context(object):
    """What the checks share: the configuration (or why it does not load), the platform, and results
    one check leaves for another (``shared``: the I2C scan for the kit check, say).

    ``config`` is None when the configuration does not load (``config_error`` says why); the checks
    that need it then say ``skipped``. ``open_camera`` (tests) replaces the configured camera.
    """

    def __init__(self, config: Any = None, config_error: str = "", config_path: str = "",
                 open_camera: Optional[Callable[[], Any]] = None, camera_seconds: float = 1.5,
                 config_fix: str = "") -> None:
        self.config = config
        self.config_error = config_error
        self.config_fix = config_fix
        self.config_path = config_path or (getattr(config, "path", None) or "")
        self.open_camera = open_camera
        self.camera_seconds = float(camera_seconds)
        self.shared = {}  # type: Dict[str, Any]
        self.jetson_model = _jetson_model()
        self.tegra_release = read_text("/etc/nv_tegra_release", 4096)

    @property
    def on_jetson(self) -> bool:
        """A Jetson: its device tree names an NVIDIA Jetson board, or L4T's release file is there."""
        return bool(self.jetson_model) or bool(self.tegra_release)

    def where_config(self) -> str:
        """The config file to edit, as the user knows it (``~/.config/jetracer/config.yaml``)."""
        path = self.config_path if self.config_path and self.config_path != os.devnull else \
            os.path.join("~", ".config", "jetracer", "config.yaml")
        home = os.path.expanduser("~")
        return "~" + path[len(home):] if home and path.startswith(home + os.sep) else path


def _jetson_model() -> str:
    model = (read_text("/proc/device-tree/model", 256) or "").strip()
    return model if "jetson" in model.lower() or "nvidia" in model.lower() else ""


class Check(object):
    """A named check: ``func(context)`` returns a :class:`Finding` (or a list of them), within ``timeout_s``."""

    def __init__(self, name: str, func: Callable[[Context], Any], timeout_s: float = DEFAULT_CHECK_TIMEOUT_S,
                 needs_config: bool = True) -> None:
        self.name = name
        self.func = func
        self.timeout_s = float(timeout_s)
        self.needs_config = needs_config
