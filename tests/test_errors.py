"""Every error class of the library says whose problem it is: it derives from jetracer.errors' UserError (exit 2)
or Failure (exit 1), so the CLI reports it as one line with that code, and a class renamed or moved keeps it."""
import errno
import importlib
import inspect
import os
import pickle
import pkgutil

import pytest

import jetracer
from jetracer.cli.errors import INTERRUPTED, exit_code
from jetracer.errors import FAILURE, USAGE, Failure, JetracerError, UserError

# Classes that derive from Exception but are not errors a person sees, each with the reason.
ALLOWED = {
    "jetracer.pilot.onnx_limits._Damaged": "raised and caught inside onnx_limits.check_onnx_file, which refuses the "
                                           "file with a FileLimitError; it never leaves the module",
}
# stand-ins imported under upstream's names (jetcam, the click widget), not as jetracer modules
SKIP = ("jetracer.compat.fallbacks.",)

# What each library error exited with when the CLI listed them by name (cli/errors.py's USER_ERRORS, until 0.3):
# the same mistake keeps its exit code now that the class carries it.
EXIT_CODES = [
    ("jetracer.cli.errors", "UsageError", USAGE),
    ("jetracer.cli.errors", "CommandFailed", FAILURE),
    ("jetracer.config", "ConfigError", USAGE),
    ("jetracer.driving.settings", "DriveSettingsError", USAGE),
    ("jetracer.driving.gamepad", "GamepadMappingError", USAGE),
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
    ("jetracer.learning.train_options", "TrainError", USAGE),  # also jetracer.learning.train.TrainError
    ("jetracer.learning.evaluate", "EvalError", USAGE),
    ("jetracer.learning.optimize", "OptimizeError", USAGE),
    ("jetracer.camera.base", "CameraError", FAILURE),
    ("jetracer.camera.base", "EndOfStream", FAILURE),
    ("jetracer.camera.jetcam_cameras", "JetcamMissing", FAILURE),
    ("jetracer.hardware.emulated.bus", "EmulatedFaultsError", USAGE),
    ("jetracer.hardware.claim", "MotorsClaimed", FAILURE),
    ("jetracer.hardware.i2c", "I2CError", FAILURE),
    ("jetracer.pilot.limits", "SelfCheckError", FAILURE),
    ("jetracer.driving.supervisor_link", "SupervisorError", FAILURE),
    ("jetracer.services.calibrate", "CalibrationAborted", FAILURE),
    ("jetracer.services.units", "ServiceError", FAILURE),
    ("jetracer.runtime", "RuntimeDirError", FAILURE),
    ("jetracer.bounded_file", "FileLimitError", FAILURE),
]
# The bases each class had before it gained UserError or Failure: callers' excepts keep catching it.
OLD_BASES = {"ConfigError": ValueError, "ProfileError": ValueError, "YamlFileError": ValueError,
             "ConfigEditError": ValueError, "CameraSettingsError": ValueError, "TrackError": ValueError,
             "PilotLoadError": ValueError, "MissingBackendError": ImportError, "CheckpointError": ValueError,
             "UnsafeFileError": pickle.UnpicklingError, "ParityError": ValueError, "ExportError": ValueError,
             "TrainError": ValueError, "EvalError": ValueError, "OptimizeError": ValueError,
             "CameraError": RuntimeError, "EndOfStream": EOFError, "JetcamMissing": ImportError,
             "EmulatedFaultsError": ValueError, "I2CError": OSError, "MotorsClaimed": OSError,
             "SelfCheckError": RuntimeError, "SupervisorError": RuntimeError, "CalibrationAborted": RuntimeError,
             "ServiceError": RuntimeError, "RuntimeDirError": OSError, "FileLimitError": OSError}


def library_modules():
    names = [m.name for m in pkgutil.walk_packages(jetracer.__path__, "jetracer.")]
    return sorted(n for n in names if not n.startswith(SKIP) and not n.endswith("__main__"))


def error_classes():
    """``dotted name -> class`` of every exception class defined at module level in jetracer/."""
    found = {}
    for name in library_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, Exception) and not issubclass(value, Warning)
                    and value.__module__ == name):
                found["%s.%s" % (name, attr)] = value
    return found


def test_every_error_class_of_the_library_derives_from_user_error_or_failure():
    classes = error_classes()
    assert len(classes) >= len(EXIT_CODES), sorted(classes)  # the walk saw the package
    stray = sorted(name for name, cls in classes.items()
                   if not issubclass(cls, (UserError, Failure)) and name not in ALLOWED
                   and cls.__module__ != "jetracer.errors")
    assert not stray, "derive these from jetracer.errors.UserError (exit 2) or Failure (exit 1): %s" % stray
    gone = sorted(set(ALLOWED) - set(classes))
    assert not gone, "remove from ALLOWED: %s" % gone


def test_a_class_that_is_both_takes_the_code_it_names_first():
    """A settings error of the camera is the user's (exit 2), though every other camera error is a failure."""
    both = [(name, cls) for name, cls in error_classes().items() if issubclass(cls, UserError) and issubclass(cls, Failure)]
    assert both, "CameraSettingsError and ExportTargetError are both"
    for name, cls in both:
        first = next(base for base in cls.__mro__ if base in (UserError, Failure))
        assert cls.exit_code == first.exit_code, name


@pytest.mark.parametrize("module_name,class_name,code", EXIT_CODES, ids=[c[1] for c in EXIT_CODES])
def test_each_library_error_keeps_its_exit_code_and_its_old_base(module_name, class_name, code):
    cls = getattr(importlib.import_module(module_name), class_name)
    assert cls.__module__ == module_name
    assert issubclass(cls, JetracerError)
    assert exit_code(cls.__new__(cls)) == code
    if class_name in OLD_BASES:
        assert issubclass(cls, OLD_BASES[class_name]), class_name


def test_the_generic_rules_stay():
    assert exit_code(KeyboardInterrupt()) == INTERRUPTED == 130
    assert exit_code(FileNotFoundError(errno.ENOENT, "no such file", "x")) == FAILURE
    missing = ModuleNotFoundError("No module named 'onnxruntime'", name="onnxruntime")
    assert exit_code(missing) == FAILURE
    assert exit_code(ModuleNotFoundError("No module named 'jetracer.nosuch'", name="jetracer.nosuch")) is None
    assert exit_code(ValueError("a plain ValueError is a bug")) is None
    assert exit_code(RuntimeError("so is a plain RuntimeError")) is None


def test_an_oserror_error_keeps_errno_and_filename():
    """I2CError, RuntimeDirError and FileLimitError are OSErrors first: errno and filename still parse."""
    from jetracer.hardware.i2c import I2CError
    from jetracer.runtime import RuntimeDirError
    for cls in (I2CError, RuntimeDirError):
        e = cls(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO), "/dev/i2c-1")
        assert (e.errno, e.filename, exit_code(e)) == (errno.EREMOTEIO, "/dev/i2c-1", FAILURE)
