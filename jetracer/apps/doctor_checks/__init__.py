"""The checks of ``jetracer doctor``, by topic, in the order they run (:data:`CHECKS`).

Each check is a function ``check_x(context) -> Finding`` (:mod:`jetracer.apps.doctor_checks.base`);
:func:`jetracer.apps.doctor.run_checks` runs them with a time limit each, so one that breaks or hangs
is reported and the others still run.
"""
from .base import Check, Context, Finding
from .camera import check_camera, check_nvargus
from .gamepad import check_gamepad
from .i2c_bus import check_i2c, check_kit, check_oled
from .jetson import check_clocks, check_platform, check_power_mode
from .model import check_model
from .services import check_drive, check_services
from .software import check_software
from .system import check_config, check_disk, check_memory

CHECKS = (
    Check("config", check_config, needs_config=False),
    Check("platform", check_platform, needs_config=False),
    Check("power_mode", check_power_mode, needs_config=False),
    Check("jetson_clocks", check_clocks, needs_config=False),
    Check("software", check_software, timeout_s=200.0, needs_config=False),
    Check("i2c", check_i2c, timeout_s=40.0),
    Check("kit", check_kit, timeout_s=40.0),
    Check("oled", check_oled, timeout_s=40.0),
    Check("nvargus", check_nvargus),
    Check("camera", check_camera, timeout_s=60.0),
    Check("model", check_model, timeout_s=300.0),
    Check("disk", check_disk),
    Check("memory", check_memory, needs_config=False),
    Check("services", check_services, needs_config=False),
    Check("drive", check_drive, needs_config=False),
    Check("gamepad", check_gamepad),
)

__all__ = ["CHECKS", "Check", "Context", "Finding"]
