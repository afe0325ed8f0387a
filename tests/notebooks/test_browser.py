"""A real browser clicks on the camera image of data_collection.ipynb in JupyterLab.

JupyterLab is served on localhost from a scratch copy of the notebooks (emulated chips, simulated
camera); Playwright drives Debian's headless Chromium (``/usr/bin/chromium``, never a downloaded
browser): open the notebook, run the cells above the stop cell, click on the live image, and check that a dataset file
appears whose name holds the clicked pixel, converted from CSS pixels the way the widget does
(``round(css_offset / shown_size * natural_size)``). A screenshot is saved under ``artifacts/``.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import NOTEBOOKS, ROOT, notebook_env

CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "data_collection.ipynb"
DATASET = os.path.join("data", "road", "apex")
ARTIFACTS = os.path.join(ROOT, "artifacts")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url, proc, log_path, timeout_s=90):
    # localhost never goes through a proxy; urlopen's global opener keeps whatever proxy it first saw
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("JupyterLab exited with %s:\n%s" % (proc.returncode, open(log_path).read()[-3000:]))
        try:
            opener.open(url, timeout=2).read()
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise AssertionError("JupyterLab did not answer %s within %d s:\n%s" % (url, timeout_s, open(log_path).read()[-3000:]))


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server over a scratch copy of notebooks/, isolated from the user's Jupyter settings."""
    work = tmp_path / "work"
    work.mkdir()
    for name in os.listdir(NOTEBOOKS):
        if name.endswith(".ipynb"):
            shutil.copy(os.path.join(NOTEBOOKS, name), str(work / name))
    settings = tmp_path / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    # JupyterLab 4 renders only the cells in view by default; the test must reach the image after run-all
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = notebook_env(tmp_path / "empty-config.yaml")
    env["JETRACER_NOTEBOOK_SMOKE"] = "0"  # a person clicks here: nothing is labelled programmatically
    env.update({"JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
                "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")})
    port, token = _free_port(), "jetracer-test"
    log = open(str(tmp_path / "jupyterlab.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=%d" % port,
         "--IdentityProvider.token=" + token, "--allow-root", "--LabApp.extension_manager=readonly",
         "--ServerApp.root_dir=" + str(work), "--LabApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"],
        cwd=str(work), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_http("http://127.0.0.1:%d/api/status?token=%s" % (port, token), proc, str(tmp_path / "jupyterlab.log"))
        yield {"url": "http://127.0.0.1:%d/lab/tree/%s?token=%s" % (port, NOTEBOOK, token), "work": work,
               "log": tmp_path / "jupyterlab.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


RUN_ALL_BUT_STOP = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.sessionContext.ready;
  panel.content.activeCellIndex = panel.content.widgets.length - 1;
  await app.commands.execute('notebook:run-all-above');
}"""

RUN_STOP_CELL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  panel.content.activeCellIndex = panel.content.widgets.length - 1;
  await app.commands.execute('notebook:run-cell');
}"""


def test_click_on_camera_image_saves_labelled_frame(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "install Debian's chromium: apt-get install -y chromium"
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "data_collection_click.png")
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            page.goto(jupyterlab["url"])
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                                   "&& window.jupyterapp.shell.currentWidget.context", timeout=180000)
            page.evaluate(RUN_ALL_BUT_STOP)  # as a person does: run the cells, click, then stop
            image = page.locator("img.jetracer-click-to-label")
            image.wait_for(state="visible", timeout=120000)
            page.wait_for_function("() => { const i = document.querySelector('img.jetracer-click-to-label');"
                                   " return i && i.naturalWidth > 0; }", timeout=120000)
            image.scroll_into_view_if_needed()
            box = image.bounding_box()
            # the live image's src is replaced every frame, so its natural size reads 0 while a frame
            # decodes: read it in one evaluation that waits for a decoded frame
            natural = page.wait_for_function(
                "() => { const i = document.querySelector('img.jetracer-click-to-label');"
                " return i && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null; }",
                timeout=30000).json_value()
            css_x, css_y = 0.7 * box["width"], 0.35 * box["height"]
            image.click(position={"x": css_x, "y": css_y})
            u = int(round(css_x / box["width"] * natural[0]))
            v = int(round(css_y / box["height"] * natural[1]))
            pattern = os.path.join(str(jupyterlab["work"]), DATASET, "%d_%d_*.jpg" % (u, v))
            deadline = time.monotonic() + 30
            while not glob.glob(pattern) and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            page.wait_for_timeout(500)
            page.screenshot(path=shot, full_page=True)
            page.evaluate(RUN_STOP_CELL)
            print("screenshot:", shot)
        except Exception:
            page.screenshot(path=os.path.join(ARTIFACTS, "data_collection_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    saved = glob.glob(os.path.join(str(jupyterlab["work"]), DATASET, "*.jpg"))
    assert glob.glob(pattern), "no %s after clicking at CSS (%.1f, %.1f) of a %.0fx%.0f image of %dx%d pixels; found %s" % (
        pattern, css_x, css_y, box["width"], box["height"], natural[0], natural[1], saved)
    assert len(saved) == 1, saved
