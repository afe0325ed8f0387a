"""jetcam and the click widget where they are missing; the real packages, when installed, always win.

The start-up path is tested as installs lay it out: ``setup.py build_py`` (what a wheel installs) or
``setup.py develop`` (a legacy editable install) puts ``jetracer-compat.pth`` at the root of a site dir,
and a fresh interpreter processes that dir with ``site.addsitedir`` exactly as it processes
site-packages at start-up. (A PEP 660 editable install gets the same file from setup.py's
``editable_wheel``; building one needs the ``wheel`` package, so it is checked by hand.)
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from compat_fixtures import fallbacks  # noqa: F401 - the stand-ins importable in this process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = ("jetcam", "jupyter_clickable_image_widget")


SITE_PACKAGES = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]


def _real_package_installed(name):
    """Whether a real ``name`` is importable here (this environment's own stand-ins do not count)."""
    code = ("import importlib.util, sys; s = importlib.util.find_spec(%r); "
            "sys.exit(0 if s and 'fallbacks' not in (s.origin or '') else 1)" % name)
    return subprocess.call([sys.executable, "-c", code]) == 0


@pytest.fixture(scope="module", params=["wheel", "develop"])
def site_dir(request, tmp_path_factory):
    """What an install puts in site-packages, built by the project's own setup.py commands: a wheel's
    contents (build_py), or an editable install's (develop: the egg-link and easy-install.pth)."""
    lib = tmp_path_factory.mktemp("site-" + request.param) / "lib"
    lib.mkdir()
    if request.param == "wheel":
        command = ["build_py", "--build-lib", str(lib)]
    else:
        command = ["develop", "--no-deps", "--install-dir", str(lib)]
    subprocess.check_call([sys.executable, "setup.py", "-q"] + command, cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(lib)))
    assert (lib / "jetracer-compat.pth").is_file()
    if request.param == "wheel":
        assert (lib / "_jetracer_compat.py").is_file()
        assert (lib / "jetracer" / "compat" / "fallbacks" / "jetcam" / "csi_camera.py").is_file()
    else:  # a legacy egg-link install (setuptools < 80) or a PEP 660 one, both pointing at this checkout
        legacy = lib / "easy-install.pth"
        assert (legacy.is_file() and legacy.read_text().strip() == ROOT) or list(lib.glob("__editable__*.pth"))
    return str(lib)


@pytest.fixture
def env(tmp_path):
    out = dict(os.environ, JETRACER_CAMERA="sim", JETRACER_I2C="emulated", JETRACER_CONFIG=os.devnull,
               OMP_NUM_THREADS="1")
    out.pop("JETRACER_PROFILE", None)
    out.pop("PYTHONPATH", None)
    return out


def run_python(code, env, site_dir, cwd, before=""):
    """A fresh interpreter that processes ``site_dir`` as site-packages, then runs ``code``.

    It starts without site (``-S``) and gets this environment's packages as plain path entries, so
    the .pth files of the environment the tests run in (which may hold this project's own install)
    play no part: only ``site_dir``'s are processed.
    """
    prologue = "import site, sys\nsys.path.extend(%r)\n%s\nsite.addsitedir(%r)\n" % (SITE_PACKAGES, before, site_dir)
    proc = subprocess.run([sys.executable, "-S", "-c", prologue + textwrap.dedent(code)], env=env, cwd=str(cwd),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    return proc


UPSTREAM_IMPORTS = """
    from jetcam.csi_camera import CSICamera
    from jetcam.usb_camera import USBCamera
    from jetcam.utils import bgr8_to_jpeg
    from jupyter_clickable_image_widget import ClickableImageWidget
"""


def test_upstream_imports_work_and_follow_the_sim_camera(site_dir, env, tmp_path):
    if _real_package_installed("jetcam"):
        pytest.skip("the real jetcam is installed here")
    proc = run_python(UPSTREAM_IMPORTS + """
    import jetcam, traitlets
    camera = CSICamera(width=224, height=224, capture_fps=65)
    print("source", jetcam.__file__)
    print("initial", camera.value.shape, camera.value.dtype, int(camera.value.max()))
    frame = camera.read()
    print("read", frame.shape, round(float(frame.std()), 1))
    jpeg = bgr8_to_jpeg(frame)
    print("jpeg", jpeg[:2] == b"\\xff\\xd8", len(jpeg) > 1000)
    widget = ClickableImageWidget(width=camera.width, height=camera.height)
    traitlets.dlink((camera, 'value'), (widget, 'value'), transform=bgr8_to_jpeg)
    print("widget", widget.value[:2] == b"\\xff\\xd8")
    small = USBCamera(width=96, height=64)
    print("usb", small.read().shape, small.world is camera.world)
    """, env, site_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert os.path.join("compat", "fallbacks", "jetcam") in out
    assert "initial (224, 224, 3) uint8 0" in out  # pre-allocated as jetcam does, black
    read_std = float(out.split("read (224, 224, 3) ", 1)[1].split()[0])
    assert read_std > 5  # a rendered road scene, not a blank frame
    assert "jpeg True True" in out and "widget True" in out
    assert "usb (64, 96, 3) True" in out  # one world per process, every camera sees it


def test_a_real_jetcam_always_wins(site_dir, env, tmp_path):
    real = tmp_path / "real"
    (real / "jetcam").mkdir(parents=True)
    (real / "jetcam" / "__init__.py").write_text("REAL = True\n")
    (real / "jetcam" / "csi_camera.py").write_text("class CSICamera(object):\n    REAL = True\n")
    (real / "jupyter_clickable_image_widget").mkdir()
    (real / "jupyter_clickable_image_widget" / "__init__.py").write_text("REAL = True\n")
    check = """
    import jetcam, jupyter_clickable_image_widget as w
    from jetcam.csi_camera import CSICamera
    print(getattr(jetcam, "REAL", False), getattr(w, "REAL", False), getattr(CSICamera, "REAL", False))
    """
    # installed before start-up (on the path), added by a .pth processed after ours, or appended later
    on_path = dict(env, PYTHONPATH=str(real))
    pth_site = tmp_path / "later"
    pth_site.mkdir()
    (pth_site / "zzz-real.pth").write_text(str(real) + "\n")
    later_finder = """
    import importlib.machinery
    class LateFinder(object):
        def find_spec(self, name, path=None, target=None):
            return importlib.machinery.PathFinder.find_spec(name, [%r]) if path is None else None
    sys.meta_path.append(LateFinder())
    """ % str(real)
    cases = [(on_path, check, ""),  # (env, code, run before the site dir is processed)
             (env, check, "site.addsitedir(%r)" % str(pth_site)),
             (env, "sys.path.append(%r)\n" % str(real) + textwrap.dedent(check), ""),
             (env, textwrap.dedent(later_finder) + textwrap.dedent(check), "")]
    for case_env, code, before in cases:
        proc = run_python(code, case_env, site_dir, tmp_path, before=before)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["True", "True", "True"], (code, proc.stdout)


def test_jetracers_own_car_cameras_never_take_the_stand_in(site_dir, env, tmp_path):
    if _real_package_installed("jetcam"):
        pytest.skip("the real jetcam is installed here")
    proc = run_python("""
    from jetracer.camera import CSICamera, JetcamMissing
    try:
        CSICamera()
    except JetcamMissing as e:
        print("missing:", "git clone https://github.com/NVIDIA-AI-IOT/jetcam" in str(e))
    """, env, site_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "missing: True" in proc.stdout


def test_a_csi_config_without_jetcam_says_how_in_one_line(site_dir, env, tmp_path):
    if _real_package_installed("jetcam"):
        pytest.skip("the real jetcam is installed here")
    proc = run_python(UPSTREAM_IMPORTS + """
    camera = CSICamera(width=224, height=224)
    """, dict(env, JETRACER_CAMERA="csi"), site_dir, tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("jetracer.camera.jetcam_cameras.JetcamMissing: jetcam is not installed")
    assert "sudo python3 setup.py install" in last and "JETRACER_CAMERA=sim" in last


def test_without_the_pth_nothing_is_provided(env, tmp_path):
    """The stand-ins are off the import path: a plain interpreter without the .pth finds no jetcam."""
    if _real_package_installed("jetcam"):
        pytest.skip("the real jetcam is installed here")
    code = "import sys; sys.path.extend(%r); sys.path.insert(0, %r); import jetracer.compat, jetcam" % (SITE_PACKAGES, ROOT)
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=str(tmp_path),
                          stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 1 and "No module named 'jetcam'" in proc.stderr


def test_the_start_up_hook_is_python_36_code():
    """tests/test_python36.py checks the package; the hook sits beside it, at the root of site-packages."""
    import shutil
    vermin = shutil.which("vermin", path=os.path.dirname(sys.executable)) or shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed")
    result = subprocess.run([vermin, "-t=3.6-", "--no-tips",
                             "--violations", "--eval-annotations", "--no-parse-comments", "_jetracer_compat.py"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout


# -- in this process: the stand-ins' behaviour ---------------------------------------------------------

def _dom_click(widget, **event):
    """A click as the browser sends it: an ipyevents custom message through the comm message handler."""
    widget._events._handle_msg({"content": {"data": {"method": "custom", "content": dict(event, type="click")}},
                                "buffers": []})


def test_clicks_arrive_as_upstreams_widget_sent_them(fallbacks):  # noqa: F811
    import cv2
    import traitlets
    from jetcam.utils import bgr8_to_jpeg
    from jupyter_clickable_image_widget import ClickableImageWidget
    frame = np.zeros((224, 224, 3), np.uint8)
    frame[50:60, 100:110] = 255
    source = traitlets.HasTraits()
    source.add_traits(value=traitlets.Any())
    source.value = frame
    widget = ClickableImageWidget(width=224, height=224)
    traitlets.dlink((source, "value"), (widget, "value"), transform=bgr8_to_jpeg)
    got = []
    widget.on_msg(lambda w, content, buffers: got.append((w, content)))
    _dom_click(widget, dataX=105, dataY=55, relativeX=210, relativeY=110, boundingRectWidth=448,
               boundingRectHeight=448, altKey=False)
    # shown twice as large, no dataX: the CSS position scaled to image pixels
    _dom_click(widget, relativeX=100, relativeY=300, boundingRectWidth=448, boundingRectHeight=448)
    _dom_click(widget, dataX=1, dataY=1)
    assert [c["event"] for _, c in got] == ["click"] * 3 and all(w is widget for w, _ in got)
    assert [(c["eventData"]["offsetX"], c["eventData"]["offsetY"]) for _, c in got] == [(105, 55), (50, 150), (1, 1)]
    assert got[0][1]["eventData"]["altKey"] is False
    # upstream's save_snapshot draws with the offsets directly
    x, y = got[0][1]["eventData"]["offsetX"], got[0][1]["eventData"]["offsetY"]
    assert cv2.circle(frame.copy(), (x, y), 8, (0, 255, 0), 3)[y, x + 8].tolist() == [0, 255, 0]
    seen = []
    callback = lambda w, c, b: seen.append(c)  # noqa: E731
    widget.on_msg(callback)
    widget.on_msg(callback, remove=True)
    widget.click(3, 4)  # the Python-side click (smoke runs) takes the same path
    assert seen == [] and got[-1][1]["eventData"]["offsetX"] == 3


def test_upstream_data_collection_saves_what_was_clicked(fallbacks, tmp_path):
    """interactive_regression's collection cell, on the simulator: the click's pixel names the file."""
    import glob
    import uuid

    import cv2
    import traitlets
    from jetcam.csi_camera import CSICamera
    from jetcam.utils import bgr8_to_jpeg
    from jupyter_clickable_image_widget import ClickableImageWidget
    from jetracer.dataset import scan_dataset

    camera = CSICamera(width=224, height=224)
    camera.running = True
    camera_widget = ClickableImageWidget(width=camera.width, height=camera.height)
    traitlets.dlink((camera, "value"), (camera_widget, "value"), transform=bgr8_to_jpeg)
    folder = tmp_path / "road_following_A" / "apex"

    def save_snapshot(_, content, msg):
        if content["event"] == "click":
            data = content["eventData"]
            x, y = data["offsetX"], data["offsetY"]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / ("%d_%d_%s.jpg" % (x, y, uuid.uuid1()))), camera.value)

    camera_widget.on_msg(save_snapshot)
    import time
    deadline = time.monotonic() + 10
    while camera.frame_id < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    _dom_click(camera_widget, dataX=150, dataY=60)
    camera.running = False
    index = scan_dataset(str(tmp_path / "road_following_A"))
    assert [(e.u, e.v) for e in index.entries] == [(150, 60)]
    saved = cv2.imread(glob.glob(str(folder / "*.jpg"))[0])
    assert saved.shape == (224, 224, 3) and saved.std() > 5  # a rendered frame, not the initial black one


def test_camera_value_is_preallocated_and_observable_like_jetcams(fallbacks):  # noqa: F811
    from jetcam.csi_camera import CSICamera
    camera = CSICamera(width=160, height=120)
    assert camera.value.shape == (120, 160, 3) and camera.value.dtype == np.uint8 and not camera.value.any()
    seen = []
    camera.observe(lambda change: seen.append(change["new"].shape), names="value")
    camera.running = True
    import time
    deadline = time.monotonic() + 10
    while len(seen) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    camera.running = False
    assert len(seen) >= 5 and set(seen) == {(120, 160, 3)}
    camera.unobserve_all()
