"""Simulator mode closes the loop: upstream's live demo, unchanged, drives the simulated car along the track."""
import os
import time

import pytest

from compat_fixtures import fallbacks, reset_shared_world  # noqa: F401 - the stand-ins importable in this process


def test_upstream_live_demo_drives_the_simulated_car_along_the_track(fallbacks):  # noqa: F811
    """road_following_live.ipynb's cells (model output replaced by the simulator's label for the frame)."""
    from jetracer.nvidia_racecar import NvidiaRacecar
    from jetcam.csi_camera import CSICamera
    from jetcam.utils import bgr8_to_jpeg
    from jetracer import sim_mode
    from jetracer.pixels import to_normalised

    car = NvidiaRacecar()
    camera = CSICamera(width=224, height=224, capture_fps=65)
    world = sim_mode.shared_world().world
    assert world.car is car and camera.world is world  # one world: the camera sees the car upstream drives

    from jetracer.sim.labels import pursuit_steering_gain
    # the notebook's STEERING_GAIN, as a user tunes it: the simulator's label is a point 0.6 m ahead, not
    # a hand click, and the LaTrax's steering_gain (-0.65) scales it down; upstream's 0.75 wobbles off the road
    STEERING_GAIN, STEERING_BIAS = pursuit_steering_gain(world), 0.0
    frames = []
    worst_cte = [0.0]

    def execute(change):
        new_image = change["new"]
        u, v = world.label_uv()  # the "network output": where the road goes in this frame
        x, _ = to_normalised(u, v, 224, 224)
        car.steering = x * STEERING_GAIN + STEERING_BIAS
        frames.append(bgr8_to_jpeg(new_image)[:2])
        worst_cte[0] = max(worst_cte[0], abs(world.state.cte_m))

    execute({"new": camera.value})  # upstream calls it once with the pre-allocated frame
    start = world.state
    camera.observe(execute, names="value")
    camera.running = True
    car.throttle = 0.3
    t0 = time.monotonic()
    time.sleep(6.0)
    camera.unobserve(execute, names="value")
    car.throttle = 0.0
    camera.running = False
    wall_s = time.monotonic() - t0
    end = world.state
    assert len(frames) > 30
    assert end.time_s - start.time_s == pytest.approx(wall_s, abs=1.0)  # real time, not lockstep
    assert end.distance_m - start.distance_m > 2.0  # it drove forward along the centreline...
    assert not end.offtrack and worst_cte[0] < 0.1  # ...and stayed near the centreline all the way


def test_nvidia_racecar_in_sim_mode_drives_the_world_and_the_emulated_chips(fallbacks):  # noqa: F811
    """basic_motion.ipynb: steering and throttle set on NvidiaRacecar() reach the simulated wheels and the
    emulated PCA9685, never real I2C (JETRACER_I2C is 'hardware' here)."""
    import os
    os.environ["JETRACER_I2C"] = "hardware"  # restored by the fixture's monkeypatch
    from jetracer.hardware.emulated import shared_bus
    from jetracer.nvidia_racecar import NvidiaRacecar
    from jetracer import sim_mode

    car = NvidiaRacecar()
    world = sim_mode.shared_world().world
    car.steering = 0.3
    assert car.simulated and world.car is car
    pulse = shared_bus().chip(0x40).pulse_us(0)
    assert pulse < 1500  # +0.3 (right) with the LaTrax's negative gain: a shorter pulse
    car.throttle = 0.3
    d0 = world.state.distance_m
    time.sleep(1.5)
    car.throttle = 0.0
    assert world.state.distance_m - d0 > 0.2
    assert world.state.steer_rad < 0  # right turn: wheel angle negative (left positive)
    second = NvidiaRacecar()  # re-running the cell: the new car takes over
    assert world.car is second
    car.close()
    second.close()


def test_without_sim_mode_nvidia_racecar_is_the_configured_car(monkeypatch, tmp_path):
    monkeypatch.setenv("JETRACER_CAMERA", "csi")
    monkeypatch.setenv("JETRACER_I2C", "emulated")
    monkeypatch.setenv("JETRACER_CONFIG", os.devnull)
    from jetracer import sim_mode
    from jetracer.nvidia_racecar import NvidiaRacecar
    reset_shared_world()
    car = NvidiaRacecar()
    assert not car.simulated and sim_mode._shared is None  # no world was built
    car.close()
