"""The obstacle notebooks run in the simulator as a person would: collision data collection writes JetBot's
blocked/free layout through its two buttons, and the live notebook shows the blocked probability and the stop."""
import glob
import os

import pytest
from conftest import cell_text, copy_notebooks, notebook_runner


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder of these tests' own: the shared one may have run train_model before any collision frames existed."""
    return copy_notebooks(tmp_path_factory.mktemp("obstacle_notebooks"))


@pytest.fixture(scope="module")
def run_notebook(workdir, tmp_path_factory):
    return notebook_runner(workdir, tmp_path_factory.mktemp("obstacle_config") / "empty-config.yaml")


def test_collision_data_collection_saves_a_blocked_and_a_free_frame_in_jetbot_s_layout(run_notebook, workdir):
    nb = run_notebook("collision_data_collection.ipynb")
    blocked = glob.glob(str(workdir / "data" / "collision" / "blocked" / "*.jpg"))
    free = glob.glob(str(workdir / "data" / "collision" / "free" / "*.jpg"))
    assert len(blocked) == 1 and len(free) == 1
    assert "{'blocked': 1, 'free': 1}" in cell_text(nb, "collector.update_counts()")
    assert "2 frames: 1 blocked, 1 free" in cell_text(nb, "scan_dataset")
    assert "stopped: throttle output 0.00" in cell_text(nb, "camera.running = False")
    name = os.path.basename(blocked[0])
    assert name.endswith(".jpg") and len(name) == len("00000000-0000-0000-0000-000000000000.jpg")  # a uuid1, as JetBot


def test_train_model_trains_the_obstacle_output_from_the_collision_frames(run_notebook, workdir):
    for name in ("data_collection.ipynb", "collision_data_collection.ipynb"):
        run_notebook(name)
    nb = run_notebook("train_model.ipynb")
    from jetracer.pilot.load import load_pilot

    assert "obstacle frames: 1 blocked, 1 free in data/collision" in cell_text(nb, "scan_dataset([COLLISION]")
    assert "data/collision" in cell_text(nb, "DATASETS.append(COLLISION)")
    assert "obstacle output: yes" in cell_text(nb, "checkpoint_summary(meta)")
    assert load_pilot(str(workdir / "models" / "road.pth")).has_obstacle_output


def test_road_following_stops_for_obstacles_and_shows_the_blocked_probability(run_notebook):
    for name in ("data_collection.ipynb", "collision_data_collection.ipynb", "train_model.ipynb",
                 "optimize_model.ipynb"):
        run_notebook(name)
    nb = run_notebook("road_following.ipynb")
    said = cell_text(nb, "obstacle_stop_for(")
    driven = cell_text(nb, "panel.run(")
    assert "obstacle stop: on, stopping at p >= 0.50; neutral (throttle.reverse is not known" in said, said
    assert "p(blocked) " in driven and "'iterations': 20" in driven
