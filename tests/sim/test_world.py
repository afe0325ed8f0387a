"""World, labels, collect, closed-loop drive and the Gymnasium env, through their user-visible outputs."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from jetracer.apps.collect import collect
from jetracer.pixels import to_normalised
from jetracer.sim.world import SimWorld
from sim_helpers import unproject


def test_label_of_a_car_centred_on_a_straight_is_straight_ahead():
    world = SimWorld("latrax", track="oval", randomize=False)
    world.dynamics.reset(*world.track.pose_at(1.0))   # the bottom straight of the oval runs from 0 to 3 m
    u, v = world.label_uv()
    x, y = to_normalised(u, v, world.width, world.height)
    assert abs(u - world.width / 2.0) < 1.0
    assert -1.0 < y < 1.0
    # the label pixel looks at the path point 0.6 m ahead: unprojecting it lands there within 1 cm
    ground = unproject(world.renderer, np.array([[u, v]]), world.pose)[0]
    assert np.hypot(*(ground - world.track.point_at(1.0 + world.label_distance_m))) < 0.01


def test_labels_stay_on_the_path_with_every_episode_camera():
    """Fisheye, low or steep pitch, roll, squeeze: the label pixel still looks at the path point ahead."""
    checked = 0
    for seed in range(40):
        world = SimWorld("latrax", track="twisty", seed=seed)
        rng = np.random.default_rng(seed)
        s = float(rng.uniform(0, world.track.length_m))
        world.dynamics.reset(*world.track.pose_at(s, float(rng.uniform(-0.1, 0.1)), float(rng.uniform(-0.2, 0.2))))
        world.step()
        u, v = world.label_uv()
        target = world.track.point_at(world.state.progress_m + world.label_distance_m)
        uv, visible = world.renderer.project(target[None], world.pose)
        if not visible[0]:
            continue
        ground = unproject(world.renderer, np.array([[u, v]]), world.pose)[0]
        assert np.hypot(*(ground - target)) < 0.02, (seed, world.camera)
        assert v > world.renderer.model.horizon_v(u)      # on the floor, below the horizon
        checked += 1
    assert checked >= 35


def test_randomised_episodes_draw_rooms_wheels_and_cameras_reproducibly():
    world = SimWorld("latrax", track="oval", seed=11)
    first = world.render()
    rooms, horizons = 0, []
    for _ in range(12):
        world.reset()
        world.render()
        rooms += world.renderer.room is not None
        horizons.append(world.renderer.model.horizon_v(112.0))
    assert rooms >= 8 and np.nanstd(horizons) > 10
    again = SimWorld("latrax", track="oval", seed=11)
    assert np.array_equal(first, again.render())


def test_label_moves_right_when_the_car_sits_left_of_the_centre():
    world = SimWorld("latrax", track="oval", randomize=False)
    world.dynamics.reset(*world.track.pose_at(1.0, offset_m=0.15))
    u, _ = world.label_uv()
    assert u > world.width / 2.0 + 10


def test_offtrack_is_reported_beyond_the_edge():
    world = SimWorld("latrax", track="oval", randomize=False)
    world.dynamics.reset(*world.track.pose_at(1.0, offset_m=world.track.width_m / 2 + 0.05))
    assert world.step().offtrack
    world.dynamics.reset(*world.track.pose_at(1.0, offset_m=0.1))
    assert not world.step().offtrack


def test_render_is_deterministic_for_a_seed(tmp_path):
    a = SimWorld("latrax", track="twisty", seed=4)
    b = SimWorld("latrax", track="twisty", seed=4)
    fa, fb = a.render(), b.render()
    assert fa.shape == (224, 224, 3) and fa.dtype == np.uint8
    assert np.array_equal(fa, fb)
    a.reset()
    assert not np.array_equal(a.render(), fb)


def test_collect_writes_a_dataset_whose_file_names_hold_the_labels(tmp_path):
    result = collect(str(tmp_path), 40, tracks=["oval", 3], seed=1)
    folder = tmp_path / "apex"
    images = sorted(p for p in os.listdir(str(folder)) if p.endswith(".jpg"))
    assert result["frames"] == 40 and len(images) == 40
    assert not [p for p in os.listdir(str(folder)) if p.endswith(".tmp")]
    index = [json.loads(line) for line in open(str(folder / "index.jsonl"))]
    assert sorted(r["file"] for r in index) == images
    assert {r["track"] for r in index} == {"oval", "seed-3"}
    assert all(r["width"] == 224 and r["height"] == 224 and r["source"] == "sim" for r in index)
    for name in images:
        u, v = int(name.split("_")[0]), int(name.split("_")[1])
        assert 0 <= u < 224 and 0 <= v < 224
        assert cv2.imread(str(folder / name)).shape == (224, 224, 3)
    # labels follow the path: on the expert's route they sit near the image centre line
    us = np.array([int(n.split("_")[0]) for n in images])
    assert abs(np.median(us) - 112) < 30


def test_sim_drive_expert_prints_the_metrics_and_writes_the_png_and_video(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "jetracer", "sim", "drive", "--expert", "--track", "oval", "--laps", "1",
                           "--out", str(out), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["laps_completed"] == 1 and result["end_reason"] == "laps"
    assert result["offtrack_events"] == 0 and result["cte_max_m"] < 0.05
    assert len(result["lap_time_s"]) == 1 and result["mean_speed_mps"] > 0.8
    png = cv2.imread(str(out / "trajectory.png"))
    assert png is not None and png.shape[0] > 100
    video = cv2.VideoCapture(str(out / "camera.avi"))
    ok, frame = video.read()
    assert ok and frame.shape == (224, 224, 3)
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == int(round(result["time_s"] * 30))


def test_gymnasium_env_passes_the_checker():
    from gymnasium.utils.env_checker import check_env

    from jetracer.sim.gym_env import make_env

    env = make_env(track="oval", max_episode_steps=50)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    total = 0.0
    for _ in range(20):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.5], np.float32))
        total += reward
    assert obs.shape == (224, 224, 3)
    assert info["distance_m"] > 0.3 and total == pytest.approx(info["distance_m"], abs=0.1 * 20)
    env.close()


def test_a_hardware_driver_on_the_emulated_bus_sees_the_same_commands_the_sim_drives():
    from jetracer.hardware import create_driver, open_i2c
    from jetracer.hardware.emulated import shared_bus
    from jetracer.profiles import load_profile

    profile = load_profile("latrax")
    world = SimWorld(profile, track="oval", randomize=False, driver=create_driver(profile, open_i2c("emulated", 1)))
    world.car.steering = 1.0    # right: the profile's negative gain gives a short pulse
    world.car.throttle = 0.3
    for _ in range(20):
        state = world.step()
    chip = shared_bus().chip(profile.steering.i2c_address)
    assert chip.pulse_us(profile.steering.channel) < 1300
    assert chip.pulse_us(profile.throttle.channel) > 1550
    assert state.steer_rad < -0.2 and state.speed_mps > 0.5
    world.close()
    assert abs(chip.pulse_us(profile.throttle.channel) - 1500) < 5
