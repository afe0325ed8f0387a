"""Run the notebooks in ``notebooks/`` as a user would, on emulated chips and the simulator.

Every notebook is copied into one temporary working folder per test session, so the dataset written
by data_collection and the model written by train_model are what the later notebooks use. The kernel
is the Python running pytest (jupyter_client maps the ``python3`` kernel's ``python`` to it).
"""
import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


def notebook_env(config_path):
    """The environment a notebook runs in under test: emulated I2C, simulated camera, smoke mode, and an empty
    user config at ``config_path`` (the defaults; a named config file must exist)."""
    if not os.path.exists(str(config_path)):
        open(str(config_path), "a").close()
    env = dict(os.environ)
    env.update({
        "JETRACER_I2C": "emulated",
        "JETRACER_CAMERA": "sim",
        "JETRACER_CONFIG": str(config_path),
        "JETRACER_NOTEBOOK_SMOKE": "1",
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    })
    env.pop("JETRACER_PROFILE", None)
    return env


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """A scratch copy of notebooks/ shared by the notebook tests of one session."""
    return copy_notebooks(tmp_path_factory.mktemp("notebooks"))


def copy_notebooks(folder):
    """``folder`` with a copy of every notebook of notebooks/ (nothing else: no dataset, no model)."""
    for name in os.listdir(NOTEBOOKS):
        if name.endswith(".ipynb"):
            shutil.copy(os.path.join(NOTEBOOKS, name), str(folder / name))
    return folder


def notebook_runner(workdir, config_path):
    """``run(name) -> executed notebook`` for the notebooks in ``workdir`` (each runs once)."""
    import nbformat
    from nbclient import NotebookClient

    done = {}

    def run(name, timeout_s=240):
        if name in done:
            return done[name]
        nb = nbformat.read(str(workdir / name), as_version=4)
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(notebook_env(config_path))
        try:
            client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                                    resources={"metadata": {"path": str(workdir)}})
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        nbformat.write(nb, str(workdir / ("executed-" + name)))
        done[name] = nb
        return nb

    return run


@pytest.fixture(scope="session")
def run_notebook(workdir, tmp_path_factory):
    """``run_notebook(name) -> executed notebook``; a cell that raises fails the test with its traceback."""
    return notebook_runner(workdir, tmp_path_factory.mktemp("config") / "empty-config.yaml")


@pytest.fixture
def run_fresh_notebook(tmp_path):
    """As ``run_notebook``, in a folder of its own: no dataset or model of the other notebooks."""
    shutil.copytree(NOTEBOOKS, str(tmp_path / "nb"), ignore=lambda d, names: [n for n in names if not n.endswith(".ipynb")])
    return notebook_runner(tmp_path / "nb", tmp_path / "empty-config.yaml")


def cell_text(nb, needle):
    """The text output (stdout and text/plain) of the first code cell whose source contains ``needle``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and needle in cell.source:
            parts = []
            for out in cell.get("outputs", []):
                if out.get("name") == "stdout":
                    parts.append(out["text"])
                elif "data" in out and "text/plain" in out["data"]:
                    parts.append(out["data"]["text/plain"])
            return "".join(parts)
    raise AssertionError("no code cell contains %r" % needle)
