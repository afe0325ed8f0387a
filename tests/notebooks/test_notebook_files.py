"""The committed notebooks are clean, thin, and safe to run: checked on the files themselves."""
import os

import nbformat
import pytest

from conftest import NOTEBOOKS

NAMES = sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith(".ipynb"))
DRIVING = ["basic_motion.ipynb", "teleoperation.ipynb", "data_collection.ipynb", "road_following.ipynb",
           "simulation.ipynb"]


def _read(name):
    return nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)


def test_all_expected_notebooks_exist():
    assert set(DRIVING + ["train_model.ipynb", "optimize_model.ipynb"]) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = _read(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "%s: clear outputs before committing" % name


@pytest.mark.parametrize("name", DRIVING)
def test_warns_before_driving_and_ends_stopping_the_car(name):
    cells = _read(name).cells
    sources = [c.source for c in cells]
    first_drive = next(i for i, s in enumerate(sources) if "panel.start()" in s or "CarSliders(car" in s)
    assert any("WARNING" in s for s in sources[:first_drive]), "%s: warn before the first cell that can move the car" % name
    last_code = [c for c in cells if c.cell_type == "code"][-1].source
    assert "car.stop()" in last_code, "%s must end with a cell that stops the car" % name


@pytest.mark.parametrize("name", NAMES)
def test_thin_client_no_model_code(name):
    code = "\n".join(c.source for c in _read(name).cells if c.cell_type == "code")
    for forbidden in ("torch.nn", "class ", "def preprocess", "torchvision.models", "cv2.resize"):
        assert forbidden not in code, "%s defines %r: put it in the jetracer package" % (name, forbidden)
