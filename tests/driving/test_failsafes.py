"""Each failsafe puts the emulated throttle channel at the profile's neutral within 100 ms of simulated time."""
import pytest
from ipywidgets.widgets.widget_controller import Axis, Button, Controller

from jetracer.driving.gamepad import BrowserHeartbeat, Teleop, connect_controller
from jetracer.driving.loop import DriveLoop
from driving_doubles import at_neutral, law, pulse, settings

PERIOD = 1.0 / 30


def make_loop(car, camera, pilot, mode="auto", **kwargs):
    limits = settings(mode=mode, max_frame_age_s=0.06, command_timeout_s=0.06, heartbeat_timeout_s=0.06)
    return DriveLoop(car, camera, pilot, law(gain=0.8, throttle=0.3), limits, lockstep=True, period_s=PERIOD,
                     armed=True, **kwargs)


def neutral_delay(loop, car, inject, before=10, after=10, each_step=None):
    """Drive ``before`` iterations (asserting the car moves), call ``inject()``, return the simulated
    seconds from the injection until the throttle channel first reads neutral (None if never)."""
    for _ in range(before):
        if each_step:
            each_step()
        loop.step()
    assert not at_neutral(car), "the car should be driving before the fault: %s" % loop.stop_reason
    t_fault = loop.clock()
    inject()
    if at_neutral(car):
        return 0.0
    for _ in range(after):
        if each_step:
            each_step()
        loop.step()
        if at_neutral(car):
            return loop.clock() - t_fault
    return None


def test_frames_stop(car, camera, pilot):
    loop = make_loop(car, camera, pilot)

    def freeze():
        camera.frozen = True

    delay = neutral_delay(loop, car, freeze)
    assert delay is not None and delay <= 0.1
    assert "no camera frame" in loop.stop_reason
    calls = pilot.calls
    loop.step()
    assert pilot.calls == calls, "a stale frame must not be processed again"


@pytest.mark.parametrize("fault", ["nan", "raise"])
def test_model_fails(car, camera, pilot, fault):
    loop = make_loop(car, camera, pilot)

    def break_model():
        pilot.fail = fault

    delay = neutral_delay(loop, car, break_model)
    assert delay is not None and delay <= 0.1
    assert loop.stop_reason.startswith("model failed")


def pad_with(n_axes=4, n_buttons=12):
    pad = Controller()
    pad.set_trait("axes", tuple(Axis() for _ in range(n_axes)))
    pad.set_trait("buttons", tuple(Button() for _ in range(n_buttons)))
    pad.set_trait("connected", True)
    return pad


def test_gamepad_commands_stop(car, camera, pilot):
    pad = pad_with()
    loop = make_loop(car, camera, pilot, mode="auto-steer")
    teleop = Teleop("standard", clock=loop.clock)
    loop.teleop = teleop
    connect_controller(pad, teleop, car=car, loop=loop)
    pad.axes[1].set_trait("value", -0.8)  # stick up: forward (the browser sets these read-only traits)
    alive = [True]

    def pad_ticks():  # what the evdev reader / browser poll does while the pad is there
        if alive[0]:
            pad.set_trait("timestamp", pad.timestamp + 1)

    def unplug():
        alive[0] = False

    delay = neutral_delay(loop, car, unplug, each_step=pad_ticks)
    assert delay is not None and delay <= 0.1
    assert "no gamepad command" in loop.stop_reason


def test_heartbeat_lost(car, camera, pilot):
    heartbeat = BrowserHeartbeat()
    loop = make_loop(car, camera, pilot, heartbeat=heartbeat)
    browser = [True]

    def browser_echo():  # the browser's jsdlink copies pulse_out to pulse_in
        if browser[0]:
            heartbeat.pulse_in.value = heartbeat.pulse_out.value

    def close_tab():
        browser[0] = False

    delay = neutral_delay(loop, car, close_tab, each_step=browser_echo)
    assert delay is not None and delay <= 0.1
    assert "heartbeat" in loop.stop_reason


def test_estop_button_in_auto_mode_latches_until_released(car, camera, pilot):
    pad = pad_with()
    loop = make_loop(car, camera, pilot, mode="auto")
    connect_controller(pad, Teleop("standard", clock=loop.clock), car=car, loop=loop)
    estop = pad.buttons[1]

    def press():
        estop.set_trait("pressed", True)

    delay = neutral_delay(loop, car, press)
    assert delay is not None and delay == 0.0, "the e-stop acts at once, not at the next frame"
    estop.set_trait("pressed", False)
    for _ in range(10):
        loop.step()
        assert at_neutral(car), "the e-stop must latch over auto mode"
    pad.buttons[9].set_trait("pressed", True)  # release button
    loop.step()
    assert not at_neutral(car)


def test_failsafe_clears_when_frames_return(car, camera, pilot):
    loop = make_loop(car, camera, pilot)
    for _ in range(5):
        loop.step()
    camera.frozen = True
    for _ in range(5):
        loop.step()
    assert at_neutral(car)
    camera.frozen = False
    loop.step()
    assert not at_neutral(car) and loop.stop_reason == ""
    assert pulse(car, "throttle") > car.profile.throttle.center_us


def test_a_new_loop_is_disarmed_until_the_pad_arms_it(car, camera, pilot):
    pad = pad_with()
    loop = DriveLoop(car, camera, pilot, law(gain=0.8, throttle=0.3), settings(), lockstep=True, period_s=PERIOD)
    connect_controller(pad, Teleop("standard", clock=loop.clock), car=car, loop=loop)
    steering = []
    for _ in range(10):
        loop.step()
        assert at_neutral(car), "a loop must not drive before it is armed"
        steering.append(pulse(car, "steering"))
    assert loop.stop_reason.startswith("not armed") and not loop.armed
    assert max(steering) - min(steering) > 20, "steering follows the model while disarmed (the car cannot roll)"
    pad.buttons[9].set_trait("pressed", True)  # START
    loop.step()
    assert loop.armed and pulse(car, "throttle") > car.profile.throttle.center_us
    pad.buttons[9].set_trait("pressed", False)
    pad.buttons[1].set_trait("pressed", True)  # e-stop disarms
    assert at_neutral(car) and not loop.armed


class LinkDouble(object):
    """The documented supervisor-link interface (beat/poll/reply/pause/lost), fed by the test."""

    def __init__(self):
        self.inbox = []
        self.beats = []
        self.replies = []
        self.lost = ""

    def beat(self, armed, throttle_output):
        self.beats.append((armed, throttle_output))

    def poll(self):
        out, self.inbox = self.inbox, []
        return out

    def reply(self, request, ok, message=""):
        self.replies.append((request.get("id"), ok))

    def pause(self):
        pass


def test_supervisor_messages_act_before_the_next_throttle_write(car, camera, pilot):
    link = LinkDouble()
    loop = make_loop(car, camera, pilot, supervisor=link)
    for _ in range(5):
        loop.step()
    assert not at_neutral(car) and link.beats[-1] == (True, car.throttle_output) and car.throttle_output > 0
    assert len(link.beats) == 10, "one beat before the model call, one after actuation"
    link.inbox.append({"t": "trip", "n": 1, "reason": "no heartbeat for 85 ms"})
    loop.step()
    assert at_neutral(car) and loop.stop_reason == "supervisor: no heartbeat for 85 ms"
    for _ in range(5):
        loop.step()
        assert at_neutral(car), "a trip latches until a person re-arms"
    link.inbox.append({"t": "arm", "id": 7})
    loop.step()
    assert link.replies == [(7, True)] and not at_neutral(car)
    link.lost = "the supervisor process has gone"
    loop.step()
    assert at_neutral(car) and loop.stop_reason.startswith("supervisor lost")
    assert not loop.arm(), "no arming without a supervisor"
