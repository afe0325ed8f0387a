"""The notebook drive panel: a loop started with arm=False stays at neutral until ARM; E-STOP disarms."""
from jetracer.driving.loop import DriveLoop
from jetracer.notebook.drive_panel import DrivePanel
from driving_doubles import at_neutral, law, pulse, settings


def test_arm_button_arms_and_estop_disarms(car, camera, pilot):
    loop = DriveLoop(car, camera, pilot, law(gain=0.8, throttle=0.3), settings(), lockstep=True)
    panel = DrivePanel(loop)
    metrics = panel.run(max_iterations=5, arm=False)
    assert metrics["stops"] == {"not armed": 5} and at_neutral(car)
    assert "DISARMED" in panel.status.value and "DISARMED" in panel.stop_buttons.state.value
    panel.stop_buttons.arm_button.click()
    loop.step()
    assert loop.armed and pulse(car, "throttle") > car.profile.throttle.center_us
    panel.stop_buttons.estop_button.value = True
    assert at_neutral(car) and not loop.armed
    loop.step()
    assert at_neutral(car)
    panel.stop_buttons.arm_button.click()
    assert not panel.stop_buttons.estop_button.value, "the toggle follows the car"
    loop.step()
    assert not at_neutral(car)


def test_running_the_panel_cell_arms_it(car, camera, pilot):
    loop = DriveLoop(car, camera, pilot, law(gain=0.8, throttle=0.3), settings(), lockstep=True)
    metrics = DrivePanel(loop).run(max_iterations=5)
    assert metrics["stops"].get("not armed", 0) == 0 and metrics["stops"] == {}
    assert at_neutral(car), "the loop stops the car when it ends"


def test_the_panel_shows_the_browser_echo_age_next_to_the_heartbeat_limit(car, camera, pilot):
    """The echo a browser returns is one loop period old on an instant link; the panel shows what the link needs."""
    from jetracer.driving.gamepad import BrowserHeartbeat

    heartbeat = BrowserHeartbeat()
    loop = DriveLoop(car, camera, pilot, law(gain=0.8, throttle=0.3), settings(heartbeat_timeout_s=0.3), lockstep=True,
                     heartbeat=heartbeat, period_s=1.0 / 30)
    heartbeat.pulse_out.observe(lambda change: setattr(heartbeat.pulse_in, "value", change["new"]), names="value")
    panel = DrivePanel(loop)
    panel.run(max_iterations=20)  # the browser's jsdlink, played at once: pulse_out -> pulse_in
    echo = heartbeat.echo_stats_ms()
    assert abs(echo["median"] - 1000.0 / 30) < 0.01 and abs(echo["max"] - 1000.0 / 30) < 0.01, echo
    assert "browser echo age: median 33 ms, p99 33 ms, worst 33 ms (the car stops after 300 ms)" in panel.status.value
