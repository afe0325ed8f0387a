"""Obstacle labels from geometry on constructed scenes: just inside and just outside the stopping distance
and the swept width, the path following the road around a bend, the car's own speed and lateral offset."""
import math

import pytest

from jetracer.sim.obstacle_labels import STOP_MARGIN_M, label_dict, stopping_distance_m
from jetracer.sim.obstacles import make_obstacle
from jetracer.sim.world import SimWorld

Y = -1.5   # the oval's bottom straight runs east along y = -1.5 from x = -1.5 to 1.5, its left is north (+y)


def world_at(x=-1.2, offset_m=0.0, speed_mps=0.0):
    world = SimWorld("latrax", track="oval", randomize=False)
    world.dynamics.reset(x, Y + offset_m, 0.0, speed_mps)
    return world


def stop_m(world, speed_mps, margin_m=STOP_MARGIN_M):
    p = world.profile.dynamics
    return speed_mps * p.latency_s + speed_mps ** 2 / (2.0 * p.coast_decel_mps2) + margin_m


def box(world, gap_m, lateral_m=0.0, size=(0.1, 0.1, 0.1)):
    """A box whose near face is ``gap_m`` ahead of the front bumper, its centre ``lateral_m`` left of the centreline."""
    front = world.pose[0] + world.car_shape.front_m
    return make_obstacle("box", front + gap_m + size[0] / 2.0, Y + lateral_m, 0.0, size_m=size, texture="plain")


def test_stopping_distance_is_reaction_plus_braking_plus_margin():
    assert stopping_distance_m(0.0, 0.1, 1.5, 0.15) == 0.15
    assert stopping_distance_m(2.0, 0.1, 1.5, 0.15) == pytest.approx(0.2 + 4.0 / 3.0 + 0.15)
    assert stopping_distance_m(-1.0, 0.1, 1.5, 0.15) == 0.15          # reversing away: the margin only
    assert math.isinf(stopping_distance_m(1.0, 0.1, 0.0, 0.15))       # a car that cannot slow never stops in time


@pytest.mark.parametrize("speed", [0.5, 1.0, 2.0])
def test_an_obstacle_just_inside_the_stopping_distance_blocks_and_just_outside_does_not(speed):
    world = world_at()
    stop = stop_m(world, speed)
    world.set_obstacles([box(world, stop - 0.005)])
    label = world.obstacle_label(speed_mps=speed)
    assert label.blocked and label.index == 0
    assert label.distance_m == pytest.approx(stop - 0.005, abs=0.002)
    assert label.stop_distance_m == pytest.approx(stop)
    world.set_obstacles([box(world, stop + 0.005)])
    label = world.obstacle_label(speed_mps=speed)
    assert not label.blocked and label.distance_m is None
    assert label.nearest_m == pytest.approx(stop + 0.005, abs=0.002) and label.nearest_index == 0


def test_the_label_uses_the_cars_own_speed():
    world = world_at(speed_mps=1.5)
    world.set_obstacles([box(world, stop_m(world, 1.5) - 0.02)])
    assert world.obstacle_label().blocked
    world.dynamics.speed_mps = 0.5
    assert not world.obstacle_label().blocked


def test_a_car_still_speeding_up_is_judged_at_the_speed_its_commands_in_flight_give_it():
    world = world_at(speed_mps=0.5)
    world.car.throttle = 0.5          # asks for 0.5 * gain 0.8 * 4 m/s = 1.6 m/s, through a 0.3 s lag
    for _ in range(4):                # the commands in flight (0.1 s of them) all speed it up
        world.step()
    v_now = world.state.speed_mps
    v_then = world.dynamics.predict(world.profile.dynamics.latency_s)[3]
    assert v_then > v_now + 0.1
    world.set_obstacles([box(world, stop_m(world, v_then) - 0.01)])
    label = world.obstacle_label()
    assert label.blocked and label.speed_mps == pytest.approx(v_then)
    assert not world.obstacle_label(speed_mps=v_now).blocked
    # driving on from there with the throttle at neutral as soon as it is blocked, the car stops short of it
    world.car.throttle = 0.0
    for _ in range(60):
        world.step()
    assert world.collisions == 0 and world.state.speed_mps == 0.0
    gap = world.obstacle_label(speed_mps=0.0).nearest_m
    assert 0.0 < gap <= STOP_MARGIN_M + 0.05


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_an_obstacle_just_inside_the_swept_width_blocks_and_just_outside_does_not(side):
    world = world_at()
    half = world.car_shape.width_m / 2.0 + 0.05     # the car's half width plus the default side margin
    for inner_edge, blocked in ((half - 0.005, True), (half + 0.005, False)):
        world.set_obstacles([box(world, 0.2, side * (inner_edge + 0.05))])
        label = world.obstacle_label(speed_mps=1.0)
        assert label.blocked == blocked, inner_edge
        assert (label.nearest_m is not None) == blocked
    world.set_obstacles([box(world, 0.2, side * (half + 0.035))])
    assert world.obstacle_label(speed_mps=1.0, side_margin_m=0.09).blocked   # a wider margin takes it in


def test_the_swept_path_is_the_lane_at_the_cars_own_offset():
    world = world_at(offset_m=0.15)                  # driving the left half of the lane
    world.set_obstacles([box(world, 0.3, lateral_m=-0.1)])   # right of the centre: clear of this car's path
    assert world.obstacle_label(speed_mps=1.0).nearest_m is None
    world.set_obstacles([box(world, 0.3, lateral_m=0.25)])   # beside the lane centre, ahead of this car
    assert world.obstacle_label(speed_mps=1.0).blocked


def test_around_a_bend_the_path_follows_the_road_not_the_straight_line_ahead():
    """On the oval's 1.5 m curve (from progress 3 m), what lies on the road 0.8 m on is in the path; what lies
    0.8 m straight ahead of the bumper, off the road's curve by about 0.2 m, is not."""
    world = SimWorld("latrax", track="oval", randomize=False)
    track = world.track
    world.dynamics.reset(*track.pose_at(3.0))
    front_s = 3.0 + world.car_shape.front_m
    x, y, heading = track.pose_at(front_s + 0.8 + 0.05)
    world.set_obstacles([make_obstacle("box", x, y, heading, size_m=(0.1, 0.1, 0.1), texture="plain")])
    label = world.obstacle_label(speed_mps=2.0)
    assert label.blocked and label.distance_m == pytest.approx(0.8, abs=0.02)
    fx, fy = world.car_shape.front_point(world.pose)
    yaw = world.pose[2]
    straight = make_obstacle("box", fx + 0.85 * math.cos(yaw), fy + 0.85 * math.sin(yaw), yaw, size_m=(0.1, 0.1, 0.1),
                             texture="plain")
    world.set_obstacles([straight])
    assert world.obstacle_label(speed_mps=2.0).nearest_m is None


def test_the_nearest_obstacle_in_the_path_is_reported_whatever_the_stopping_distance():
    world = world_at()
    world.set_obstacles([box(world, 1.8), box(world, 1.2), box(world, 0.5, lateral_m=0.4)])
    label = world.obstacle_label(speed_mps=0.2)
    assert not label.blocked
    assert label.nearest_index == 1 and label.nearest_m == pytest.approx(1.2, abs=0.002)
    world.lift_obstacle(1)
    assert world.obstacle_label(speed_mps=0.2).nearest_index == 0
    assert label_dict(world.obstacle_label(speed_mps=0.2)) == {"blocked": False, "distance_m": None, "nearest_m": 1.8,
                                                                 "stop_distance_m": round(stop_m(world, 0.2), 3)}
