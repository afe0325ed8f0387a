"""The on-car code must run on a Jetson Nano's JetPack 4.6 (Python 3.6.9); vermin checks it statically."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Desktop-only tools that may use newer Python (each says so in its docstring).
DESKTOP_ONLY = [
    os.path.join("jetracer", "sim", "gym_env.py"),
]


def on_car_files():
    for folder, _, files in os.walk(os.path.join(ROOT, "jetracer")):
        for name in files:
            path = os.path.relpath(os.path.join(folder, name), ROOT)
            if name.endswith(".py") and path not in DESKTOP_ONLY:
                yield path


def test_vermin_finds_nothing_newer_than_python_3_6():
    files = sorted(on_car_files())
    assert len(files) > 10
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "vermin"), "-t=3.6-", "--no-tips", "--violations", "--eval-annotations",
         "--no-parse-comments"] + files,
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
    )
    assert result.returncode == 0, "modules need Python > 3.6:\n" + result.stdout


def test_install_requires_admits_python_3_6():
    """Every hard requirement must have a release that installs on 3.6 (no lower bound above it)."""
    import re

    setup_py = open(os.path.join(ROOT, "setup.py")).read()
    block = setup_py.split("install_requires=[", 1)[1].split("]", 1)[0]
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9.]+)"', block))
    # The newest releases that still support Python 3.6 (checked on PyPI when the pins were set).
    last_for_py36 = {"traitlets": "4.3.3", "numpy": "1.19.5", "PyYAML": "6.0.1", "Pillow": "8.4.0",
                     "psutil": "5.9.8", "tqdm": "4.64.1", "Adafruit-MotorHAT": "1.4.0", "Adafruit-SSD1306": "1.6.2"}
    assert set(pins) == set(last_for_py36), "update last_for_py36 when install_requires changes"
    for name, lower in pins.items():
        assert _version(lower) <= _version(last_for_py36[name]), "%s>=%s cannot install on Python 3.6" % (name, lower)


def _version(text):
    return tuple(int(p) for p in text.split("."))


@pytest.mark.parametrize("module", ["jetracer", "jetracer.nvidia_racecar", "jetracer.car", "jetracer.config"])
def test_importing_touches_no_hardware(module):
    """Importing must not open a bus: run it with no /dev/i2c-* access and no emulation configured."""
    code = "import %s" % module
    env = dict(os.environ, JETRACER_I2C="hardware")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
