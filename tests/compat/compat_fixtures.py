"""Fixture for the compat tests: the stand-ins importable in this process, as after start-up, on the
simulator and emulated chips (a module of its own: tests/notebooks imports its conftest by name)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = ("jetcam", "jupyter_clickable_image_widget")


def reset_shared_world():
    """Stop and forget :mod:`jetracer.sim_mode`'s shared world (a new one is built on its next use)."""
    from jetracer import sim_mode
    with sim_mode._lock:
        if sim_mode._shared is not None:
            sim_mode._shared.stop()
            sim_mode._shared = None


@pytest.fixture
def fallbacks(monkeypatch, tmp_path):
    """The stand-ins importable here as after start-up (the finder installed), on the simulator."""
    import importlib.util
    for name in [m for m in sys.modules if m.split(".")[0] in NAMES]:  # left over by other tests' stand-ins
        monkeypatch.delitem(sys.modules, name)
    for name in NAMES:
        spec = importlib.util.find_spec(name)
        if spec is not None and "fallbacks" not in (spec.origin or ""):  # our own stand-in does not count
            pytest.skip("the real %s is installed here" % name)
    monkeypatch.setenv("JETRACER_CAMERA", "sim")
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    monkeypatch.delenv("JETRACER_PROFILE", raising=False)
    sys.path.insert(0, ROOT)
    import _jetracer_compat
    sys.path.remove(ROOT)
    installed_at_start_up = any(type(f).__name__ == "FallbackFinder" for f in sys.meta_path)
    finder = _jetracer_compat.install()
    from jetracer.hardware.emulated import reset_shared_bus
    reset_shared_bus()
    reset_shared_world()
    yield
    reset_shared_world()
    for name in [m for m in sys.modules if m.split(".")[0] in NAMES]:
        del sys.modules[name]
    if finder in sys.meta_path and not installed_at_start_up:
        sys.meta_path.remove(finder)
