"""The obstacle notebooks run in the simulator as a person would: collision data collection writes JetBot's
blocked/free layout through its two buttons, and the live notebook shows the blocked probability and the stop."""
import glob
import os

from conftest import cell_text


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


def test_road_following_shows_whether_it_stops_for_obstacles_and_the_blocked_probability(run_notebook):
    for name in ("data_collection.ipynb", "collision_data_collection.ipynb", "train_model.ipynb",
                 "optimize_model.ipynb"):
        run_notebook(name)
    nb = run_notebook("road_following.ipynb")
    said = cell_text(nb, "obstacle_stop_for(")
    driven = cell_text(nb, "panel.run(")
    if "obstacle stop: on" in said:  # a model with an obstacle output (trained with the collision frames)
        assert "stopping at p >= 0.50" in said and "p(blocked) " in driven
    else:
        assert "has no obstacle output and no drive.obstacle.stop_model" in said and "obstacle stop: off" in driven
    assert "'iterations': 20" in driven
