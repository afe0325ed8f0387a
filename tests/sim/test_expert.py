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


CARS = [  # (throttle_gain, throttle_offset, max_throttle): the profiles' and odd calibrations
    (0.8, 0.0, 0.8), (0.8, 0.0, 0.3), (-0.8, 0.0, 0.5), (0.5, 0.1, 1.0), (1.5, -0.1, 0.6), (0.4, 0.25, 0.2),
    (-0.6, 0.05, 0.9),
]


@pytest.mark.parametrize("gain, offset, limit", CARS)
def test_expert_top_speed_is_the_fastest_the_real_car_gives(gain, offset, limit):
    from jetracer.racecar import Racecar
    from jetracer.sim.dynamics import DynamicsParams
    from jetracer.sim.expert import top_speed_mps

    world = SimWorld("latrax", track="oval", randomize=False)
    params = DynamicsParams(world.profile["dynamics"])
    car = Racecar(throttle_gain=gain, throttle_offset=offset, max_throttle=limit)
    fastest = 0.0
    for command in [i / 500.0 for i in range(-500, 501)]:
        car.throttle = command
        fastest = max(fastest, car.throttle_output)
    assert top_speed_mps(car, params) == pytest.approx(fastest * params.max_speed_mps, abs=1e-9)


@pytest.mark.parametrize("gain, offset, limit", CARS)
@pytest.mark.parametrize("speed_mps", [0.1, 0.5, 1.2, 2.0, 3.5, 9.0])
def test_the_car_gives_the_throttle_output_the_expert_asks_for(gain, offset, limit, speed_mps):
    from jetracer.racecar import Racecar
    from jetracer.sim.expert import top_speed_mps

    world = SimWorld("latrax", track="oval", randomize=False)
    expert = PurePursuitExpert(world.track, world.profile)
    car = Racecar(throttle_gain=gain, throttle_offset=offset, max_throttle=limit)
    p = expert.params
    want = max(min(speed_mps, top_speed_mps(car, p)) / p.max_speed_mps, p.throttle_deadband)
    reachable_from = min(max(0.0, offset), limit)  # outputs in (0, offset] are neutral on the car
    _, car.throttle = expert.commands(car, 0.0, speed_mps)
    if want > reachable_from + 1e-3:
        assert car.throttle_output == pytest.approx(want, abs=1e-9)
    else:                                        # the nearest the car can give: just above the offset
        assert 0.0 < car.throttle_output and reachable_from <= car.throttle_output <= reachable_from + 2e-3


def test_the_car_settles_at_the_speed_the_expert_predicts_with_a_low_throttle_limit():
    """max_throttle 0.3 caps the output (gain 0.8): the car tops out at 0.3 x 4 m/s, and so does the expert's model."""
    from jetracer.sim.expert import top_speed_mps

    world = SimWorld("latrax", track="oval", randomize=False)
    world.car.max_throttle = 0.3
    expert = PurePursuitExpert(world.track, world.profile, cruise_mps=3.0)
    predicted = top_speed_mps(world.car, expert.params)
    fastest = 0.0
    for _ in range(30 * 8):
        world.car.steering, world.car.throttle = expert.act(world)
        fastest = max(fastest, world.step().speed_mps)
    assert predicted == pytest.approx(1.2)
    assert fastest == pytest.approx(predicted, abs=0.01)
