"""jetracer: an autonomous RC car for the NVIDIA Jetson, with a simulator and emulated hardware.

install_requires holds only what the car itself needs and what a Jetson Nano on JetPack 4.6
(Python 3.6.9) can install from PyPI. OpenCV, PyTorch and torchvision come with JetPack on the car
(a PyPI OpenCV there would lose GStreamer and the CSI camera), so they live in extras.
"""
import base64
import glob
import hashlib
import os
import shutil
import zipfile

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

# Loads _jetracer_compat at interpreter start: stand-ins for jetcam and jupyter_clickable_image_widget
# where they are missing (jetracer.compat). A .pth file works only at the root of site-packages, so each
# kind of install puts it there: wheels (build_py), legacy `pip install -e`/`setup.py develop` (develop)
# and PEP 660 editable installs (editable_wheel, setuptools >= 64).
PTH = "jetracer-compat.pth"
HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithPth(build_py):
    def run(self):
        build_py.run(self)
        if not getattr(self, "editable_mode", False):
            self.copy_file(os.path.join(HERE, PTH), os.path.join(self.build_lib, PTH))


class DevelopWithPth(develop):
    def run(self):
        develop.run(self)
        # setuptools >= 80 runs develop as a PEP 660 install (editable_wheel below adds the file itself)
        install_dir = getattr(self, "install_dir", None)
        if not getattr(self, "uninstall", False) and install_dir and not os.path.exists(os.path.join(install_dir, PTH)):
            self.copy_file(os.path.join(HERE, PTH), os.path.join(install_dir, PTH))


def _add_to_wheel(wheel, name, data):
    """Rewrite ``wheel`` with ``name`` at its root and a RECORD line for it."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    tmp = wheel + ".tmp"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                content = content.rstrip(b"\n") + ("\n%s,sha256=%s,%d\n" % (name, digest, len(data))).encode()
            dst.writestr(item, content)
        dst.writestr(name, data)
    shutil.move(tmp, wheel)


cmdclass = {"build_py": BuildPyWithPth, "develop": DevelopWithPth}
try:
    from setuptools.command.editable_wheel import editable_wheel

    class EditableWheelWithPth(editable_wheel):
        def run(self):
            editable_wheel.run(self)
            wheels = sorted(glob.glob(os.path.join(self.dist_dir, "*.whl")), key=os.path.getmtime)
            if not wheels:
                raise RuntimeError("editable_wheel wrote no wheel to %s; cannot add %s" % (self.dist_dir, PTH))
            with open(os.path.join(HERE, PTH), "rb") as f:
                _add_to_wheel(wheels[-1], PTH, f.read())

    cmdclass["editable_wheel"] = EditableWheelWithPth
except ImportError:  # setuptools < 64: `pip install -e` runs develop
    pass

DESKTOP_ONLY = 'python_version >= "3.8"'

extras = {
    # the simulator and image handling off the Jetson (JetPack ships its own OpenCV with GStreamer)
    "sim": ["opencv-python-headless>=4.5", "gymnasium>=0.29; " + DESKTOP_ONLY],
    # training and portable inference backends
    "train": [
        "torch>=1.10",
        "torchvision>=0.11",
        "matplotlib>=3.3",
        # strict JPEG decoding (libjpeg-turbo warnings as errors): finds frames damaged in the middle
        "simplejpeg>=1.6; " + DESKTOP_ONLY,
        "onnx>=1.10; " + DESKTOP_ONLY,
        "onnxruntime>=1.10; " + DESKTOP_ONLY,
        "onnxslim>=0.1.30; " + DESKTOP_ONLY,
    ],
    "notebooks": ["jupyterlab>=3", "ipywidgets>=7.6", "ipyevents>=2.0", "ipykernel>=5"],
    # on the car: evdev for the drive service's headless gamepad (the OLED reads GPU load from sysfs)
    "jetson": ["evdev>=1.4"],
}
extras["demo"] = extras["sim"] + extras["train"]
# upstream's own PCA9685 stack (CircuitPython libraries over Blinka), run in tests next to ours on the emulated bus
UPSTREAM_STACK = ["adafruit-circuitpython-servokit>=1.3", "adafruit-circuitpython-pca9685>=3.4",
                  "adafruit-circuitpython-motor>=3.4", "adafruit-circuitpython-busdevice>=5.2",
                  "adafruit-circuitpython-register>=1.9"]
extras["dev"] = sorted(set(
    extras["demo"] + extras["notebooks"]
    + ["pytest>=7", "pytest-timeout>=2", "pytest-xdist>=2", "hypothesis>=6", "vermin>=1.6", "nbclient>=0.7",
       "nbformat>=5",
       "playwright>=1.40; " + DESKTOP_ONLY]
    + [p + "; " + DESKTOP_ONLY for p in UPSTREAM_STACK]
))

setup(
    name="jetracer",
    version="0.1.0",
    description="Autonomous RC car for the NVIDIA Jetson Nano: car, emulated hardware, simulator, road following",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.6",
    packages=find_packages(include=["jetracer", "jetracer.*"]),
    py_modules=["_jetracer_compat"],
    cmdclass=cmdclass,
    package_data={"jetracer": ["profiles/*.yaml", "services/units/*.in", "data/*"]},
    install_requires=[
        "traitlets>=4.3",
        "numpy>=1.17",
        "PyYAML>=5.1",
        "Pillow>=5.0",
        "psutil>=5.4",
        "tqdm>=4.40",
        "Adafruit-MotorHAT>=1.4",
        "Adafruit-SSD1306>=1.6",
    ],
    extras_require=extras,
    entry_points={"console_scripts": ["jetracer=jetracer.cli.main:main"]},
)
