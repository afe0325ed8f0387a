"""The CLI's one error path: which exceptions are the user's to fix (one line, exit 2 or 1) and which are bugs.

A verb raises; :func:`jetracer.cli.main.main` calls :func:`exit_code` and :func:`one_line`. Exit codes:

* 2: bad usage: what the user typed or configured is wrong (an option, a config key, a car profile);
* 1: a failure: the request was fine but could not be done (a model file that cannot be used, a
  camera or I2C device that does not answer, a self-check refusal, a missing package);
* 130: interrupted (Ctrl-C).

Anything not listed is a bug: one line saying so, and its traceback with ``jetracer -v``.
The library's error classes are matched by name in :data:`USER_ERRORS` without importing their
modules (a class whose module was never imported cannot have been raised), so ``jetracer --help``
stays fast.
"""
import sys
from typing import Optional


class UsageError(Exception):
    """The command line asks for something that cannot be: exit 2, the message names the option and the fix."""


class CommandFailed(Exception):
    """The command could not do what was asked: exit 1, the message says why and what to do."""


USAGE = 2
FAILURE = 1
INTERRUPTED = 130

# (module, class, exit code), the more specific classes first.
USER_ERRORS = (
    ("jetracer.cli.errors", "UsageError", USAGE),
    ("jetracer.cli.errors", "CommandFailed", FAILURE),
    ("jetracer.config", "ConfigError", USAGE),            # also DriveSettingsError, GamepadMappingError
    ("jetracer.profiles", "ProfileError", USAGE),
    ("jetracer.yaml_file", "YamlFileError", USAGE),
    ("jetracer.config_edit", "ConfigEditError", USAGE),
    ("jetracer.camera.factory", "CameraSettingsError", USAGE),
    ("jetracer.sim.track", "TrackError", USAGE),
    ("jetracer.pilot.base", "PilotLoadError", FAILURE),
    ("jetracer.pilot.base", "MissingBackendError", FAILURE),
    ("jetracer.pilot.checkpoint", "CheckpointError", FAILURE),
    ("jetracer.pilot.safe_load", "UnsafeFileError", FAILURE),
    ("jetracer.learning.parity", "ParityError", FAILURE),
    ("jetracer.learning.upstream_export", "ExportTargetError", USAGE),
    ("jetracer.learning.upstream_export", "ExportError", FAILURE),
    ("jetracer.learning.train", "TrainError", USAGE),
    ("jetracer.learning.evaluate", "EvalError", USAGE),
    ("jetracer.learning.optimize", "OptimizeError", USAGE),
    ("jetracer.camera.base", "CameraError", FAILURE),      # also JetcamMissing, EndOfStream
    ("jetracer.hardware.emulated.bus", "EmulatedFaultsError", USAGE),  # a bad $JETRACER_EMULATED_FAULTS
    ("jetracer.hardware.claim", "MotorsClaimed", FAILURE),  # another process owns the motors (an I2CError)
    ("jetracer.hardware.i2c", "I2CError", FAILURE),
    ("jetracer.pilot.limits", "SelfCheckError", FAILURE),
    ("jetracer.driving.supervisor_link", "SupervisorError", FAILURE),
    ("jetracer.services.calibrate", "CalibrationAborted", FAILURE),
    ("jetracer.services.units", "ServiceError", FAILURE),
    ("jetracer.runtime", "RuntimeDirError", FAILURE),
)


def exit_code(error: BaseException) -> Optional[int]:
    """The exit code for a user error, or None for a bug."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    for module_name, class_name, code in USER_ERRORS:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if cls is not None and isinstance(error, cls):
            return code
    if isinstance(error, ImportError):
        # a package that is not installed is the environment's; a jetracer module that fails to import is a bug
        name = getattr(error, "name", None) or ""
        return FAILURE if type(error) is not ImportError and name and not name.startswith("jetracer") else None
    if isinstance(error, OSError):  # a file, device or socket the command was pointed at
        return FAILURE
    return None


PIP_NAMES = {"cv2": "opencv-python (on a Jetson: JetPack's OpenCV)", "PIL": "Pillow", "yaml": "PyYAML",
             "torch": "torch (on a Jetson: NVIDIA's wheel for your JetPack)", "gymnasium": "gymnasium"}


def one_line(error: BaseException) -> str:
    """The error's message as one line (the library's messages may hold a list of problems)."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(error).split())
    if type(error).__name__ == "ModuleNotFoundError" and getattr(error, "name", None):
        top = error.name.split(".")[0]
        text = "%s; install %s or use a command that does not need it" % (text, PIP_NAMES.get(top, top))
    return text or type(error).__name__
