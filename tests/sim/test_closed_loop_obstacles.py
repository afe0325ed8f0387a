"""``jetracer sim drive --obstacles N``: the drive's obstacle stop in the closed loop, the simulated person who
lifts an obstacle the car waited 2 s before, and the figures (collisions, stops, false stops, margins)."""
import json
import subprocess
import sys

import pytest

from jetracer.apps.closed_loop import ExpertPolicy, evaluate, policy_obstacle_stop
from jetracer.config_schema import default_settings
from jetracer.sim.lifter import ObstacleLifter
from jetracer.sim.obstacles import make_obstacle
from jetracer.sim.world import SimWorld

Y = -1.5   # the oval's bottom straight runs east along y = -1.5 from x = -1.5 to 1.5
OBSTACLE = default_settings("drive").obstacle


def box_ahead(world, gap_m, x=-1.2):
    """A 10 cm box on the centreline whose near face is ``gap_m`` ahead of the front bumper of a car at ``x``."""
    return make_obstacle("box", x + world.car_shape.front_m + gap_m + 0.05, Y, 0.0, size_m=(0.1, 0.1, 0.1),
                         texture="plain")


def test_the_person_lifts_the_obstacle_after_the_car_held_still_2_s_before_it():
    world = SimWorld("latrax", track="oval", randomize=False)
    world.dynamics.reset(-1.2, Y, 0.0, 0.0)
    world.set_obstacles([box_ahead(world, 0.15), box_ahead(world, 2.0)])
    lifter = ObstacleLifter(world)
    steps = int(round(2.0 * world.fps))
    lifted = [lifter() for _ in range(steps) if world.step() is not None]
    assert not any(i is not None for i in lifted), "not before 2 s"
    world.step()
    assert lifter() == 0 and world.obstacles.lifted.tolist() == [True, False]
    assert lifter.lifted[0]["distance_m"] == pytest.approx(0.15, abs=0.01)
    for _ in range(3 * steps):
        world.step()
        lifter()
    assert world.obstacles.lifted.tolist() == [True, False], "the far one (2 m) is out of reach"


def constructed_world():
    world = SimWorld("latrax", track="oval", randomize=False)
    world.dynamics.reset(-1.2, Y, 0.0, 0.0)
    return SimWorld("latrax", track="oval", randomize=False, obstacles=[box_ahead(world, 1.5)])


def test_the_expert_stops_before_the_obstacle_waits_for_the_lift_and_finishes_the_lap():
    world = constructed_world()
    policy = ExpertPolicy(world)
    result = evaluate(world, policy, laps=1, max_seconds=60, obstacle_stop=policy_obstacle_stop(OBSTACLE, policy, world))
    assert result["collisions"] == 0 and result["laps_completed"] == 1
    assert result["obstacle_stops"] == 1 and result["false_stops"] == 0 and len(result["lifted"]) == 1
    assert result["min_stop_margin_m"] >= 0.10 and result["stop_margins_m"] == [result["min_stop_margin_m"]]


def test_without_the_stop_the_expert_drives_into_it_and_the_collision_is_counted():
    world = constructed_world()
    result = evaluate(world, ExpertPolicy(world), laps=1, max_seconds=20)
    assert result["collisions"] >= 1 and "obstacle_stops" not in result


class Nervous(ExpertPolicy):
    """The expert whose obstacle reading says blocked for 3 frames every 2 s, whatever is there."""

    def act(self, world, frame):
        out = super(Nervous, self).act(world, frame)
        self.blocked_p = 1.0 if world.frame % 60 < 3 else 0.0
        return out


def test_a_stop_with_nothing_within_the_stopping_distance_is_a_false_stop():
    world = SimWorld("latrax", track="oval", randomize=False, obstacles=[])
    policy = Nervous(world)
    result = evaluate(world, policy, laps=1, max_seconds=8, obstacle_stop=policy_obstacle_stop(OBSTACLE, policy, world))
    assert result["obstacle_stops"] >= 3 and result["false_stops"] == result["obstacle_stops"]
    assert result["stop_margins_m"] == [] and result["min_stop_margin_m"] is None


def sim_drive(*args):
    proc = subprocess.run([sys.executable, "-m", "jetracer", "sim", "drive", "--expert", "--track", "twisty",
                           "--laps", "1", "--obstacles", "8", "--json"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    return proc, json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None


def test_sim_drive_obstacles_reports_collisions_stops_and_margins():
    proc, result = sim_drive()
    assert proc.returncode == 0, proc.stderr
    assert result["collisions"] == 0 and result["laps_completed"] == 1
    assert result["obstacle_stops"] >= 1 and result["false_stops"] == 0
    assert result["min_stop_margin_m"] >= 0.10 and len(result["lifted"]) == len(result["stop_margins_m"])
    proc, result = sim_drive("--no-obstacle-stop", "--max-seconds", "30")
    assert result["collisions"] >= 1 and "obstacle_stops" not in result


def test_the_bench_counts_the_rule_s_stops_and_margins_on_a_held_out_track():
    from jetracer.apps.bench.obstacle_stop import bench_closed_loop, format_report

    result = bench_closed_loop(tracks=("oval",), obstacles=8, laps=1, clear_laps=1)
    assert result["pilot"] == "label" and result["placements"] == 8 and result["collisions"] == 0
    assert result["met"] == result["obstacle_stops"] >= 1 and result["false_stops"] == 0
    assert result["min_stop_margin_m"] >= 0.10 and result["clear_laps"] == 1 and result["clear_false_stops"] == 0
    text = format_report({"closed_loop": result})
    assert "8 obstacles placed, %d met in the car's path: 0 collisions" % result["met"] in text
