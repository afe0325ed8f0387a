"""The expert laps every built-in track and procedural seeds 0-19 without leaving the track."""
import pytest

from jetracer.sim.expert import PerturbedExpert, PurePursuitExpert
from jetracer.sim.world import SimWorld

TRACKS = ["oval", "twisty", "narrow"] + list(range(20))


def _laps(world, driver, laps=3, max_frames=30 * 200):
    offtrack = 0
    worst = 0.0
    for _ in range(max_frames):
        steering, throttle = driver.act(world)
        world.car.steering = steering
        world.car.throttle = throttle
        state = world.step()
        offtrack += state.offtrack
        worst = max(worst, abs(state.cte_m))
        if state.laps >= laps:
            break
    return state, offtrack, worst


@pytest.mark.parametrize("track", TRACKS)
def test_expert_completes_three_laps_without_offtrack(track):
    world = SimWorld("latrax", track=track, randomize=False)
    state, offtrack, worst = _laps(world, PurePursuitExpert(world.track, world.profile))
    assert state.laps == 3
    assert offtrack == 0
    assert worst < 0.05
    assert state.time_s < 3 * world.track.length_m / 0.9   # it does not crawl


def test_expert_drives_the_tamiya_profile_too():
    world = SimWorld("tamiya_tt02", track="twisty", randomize=False)
    state, offtrack, _ = _laps(world, PurePursuitExpert(world.track, world.profile), laps=1)
    assert state.laps == 1 and offtrack == 0


def test_perturbed_expert_leaves_the_centre_but_stays_on_track():
    world = SimWorld("latrax", track="twisty", seed=1, randomize=True)
    driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
    state, offtrack, worst = _laps(world, driver, laps=1)
    assert state.laps == 1 and offtrack == 0
    assert worst > 0.05   # recovery states exist


def test_world_is_deterministic_for_a_seed_and_episodes_do_not_depend_on_earlier_ones():
    def run(episodes_before, frames):
        world = SimWorld("latrax", track="oval", seed=5)
        for n in episodes_before:
            for _ in range(n):
                world.car.throttle = 0.3
                world.step()
            world.reset()
        driver = PerturbedExpert(PurePursuitExpert(world.track, world.profile), world.streams.dynamics)
        for _ in range(frames):
            world.car.steering, world.car.throttle = driver.act(world)
            world.step()
        return world.episode, world.state

    a = run([3, 10], 60)
    b = run([50, 1], 60)
    assert a == b
