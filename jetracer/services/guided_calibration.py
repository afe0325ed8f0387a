"""The guided calibration: a new car set up step by step, with the wheels off the ground, checked by a person.

``jetracer calibrate`` and the notebook widget (:mod:`jetracer.notebook.calibration`) run this one
engine: :data:`GUIDED_STEPS`, a sequence of step objects, each a generator that yields its questions
(:class:`~jetracer.services.calibrate.Prompt`: the text a terminal prints, the answers a widget shows
as buttons) and is sent the answers. A terminal drives it with ``ask`` (:func:`guided_calibrate`), the
widget with button clicks; the same answers give the same saved config.

The steps, for a servo + ESC car (``pca9685_esc``):

1. steering centre, then its two end points (:data:`~jetracer.services.calibrate.STEPS`, as
   ``jetracer calibrate --pulses-only`` does them);
2. steering direction: the wheels turn to the car's left (``steering = -1``, through the gain) and the
   person says whether they turned LEFT; a no flips the sign of ``car.steering_gain``, then the right
   side is checked (``steering = +1`` must turn right, as everywhere in jetracer);
3. ESC arming: neutral is held (at least ``arm_s``) until the person says the ESC armed;
4. ESC neutral: nudged until the wheels stop creeping;
5. the throttle limit ``car.max_throttle`` (0..1, Enter keeps the profile's): every later step and the
   car are held to it;
6. throttle direction: a short small forward pulse (``BLIP_OUTPUT`` of full travel, at most the limit),
   then neutral; "did the wheels spin FORWARD?" - a no flips the sign of ``car.throttle_gain``;
7. the ESC's reverse: a forward spin, then a reverse pulse; if the wheels only braked, neutral and a
   second reverse pulse. Saved as ``throttle.reverse``: ``direct``, ``double-tap`` or ``none``;
8. the ESC's backward end point, then its forward end point (named from the direction found);
9. a test pattern on the car built from the saved config, as ``jetracer drive`` builds it: steer
   left, right, centre, a small forward blip within the limit, neutral; the person confirms it.

A DC-motor car (``motorhat_dc``) has no ESC pulses: after the steering steps come the limit, then each
motor (and each PWM pair) spun slowly forward on its own; a no swaps that motor's direction inputs
(``in1_channel``/``in2_channel``, or a pair's ``forward_channel``/``reverse_channel``) in
``throttle.motors`` / ``throttle.pwm_pairs``; then the test pattern.

Each step is saved in the user's config (``profile_overrides``, :func:`jetracer.config.save_user_settings`,
validated, comments kept; never a shipped profile) the moment the person confirms it, so quitting
(``q``, end of input, Ctrl-C) later keeps every confirmed step; the outputs go back to neutral and the
message says what was kept. A centre saved before its end points keeps the saved end points, moved
just far enough to stay :data:`~jetracer.services.calibrate.MARGIN_US` from the new centre (what Enter
in the end step would keep), so every intermediate file is one the car can load. While waiting for an
answer the throttle is always at neutral.
"""
import copy
import time
from collections import namedtuple
from typing import Any, Callable, Dict, Generator, List, Mapping, Optional, Sequence, Tuple

from ..config import Config, save_user_settings
from ..hardware.i2c import I2CProvider
from ..profiles import ProfileError, deep_merge, profile_from_mapping
from .calibrate import (MARGIN_US, STEPS, CalibrationAborted, PulseChannel, Prompt, Step, _clip, _starting_profile,
                        drive, pulse_step, step_range, throttle_window)

BLIP_OUTPUT = 0.2  # throttle output (fraction of full travel) of the direction checks and the test pattern
BLIP_S = 0.6       # how long a direction check spins the wheels
ARM_S = 2.0        # neutral held at least this long before the ESC counts as armed
HOLD_S = 0.6       # how long the test pattern holds each steering position

Timing = namedtuple("Timing", "blip_s arm_s hold_s sleep clock")
Timing.__doc__ = """How long the checks take (seconds) and the clock they use (injectable for tests)."""

LEFT_CHOICES = (("y", "Yes, LEFT"), ("n", "No, RIGHT"), ("s", "They did not move"), ("r", "Again"))
RIGHT_CHOICES = (("y", "Yes, RIGHT"), ("n", "No"), ("r", "Again"))
ARMED_CHOICES = (("y", "Yes, armed"), ("n", "It did not arm"))
FORWARD_CHOICES = (("y", "Yes, FORWARD"), ("n", "No, BACKWARD"), ("s", "They did not move"), ("r", "Again"))
BACKWARD_CHOICES = (("y", "Yes, BACKWARD"), ("n", "No, they only stopped"), ("r", "Again"))
WHEELS_UP_CHOICES = (("y", "Yes, wheels off the ground"),)
PATTERN_CHOICES = (("y", "Yes, all of it"), ("n", "No"), ("r", "Show it again"))
SYNONYMS = {"yes": "y", "no": "n"}


def _sign(value: float) -> float:
    return -1.0 if value < 0 else 1.0


class Session(object):
    """What the steps share: the profile as calibrated so far, the outputs, the person (``say``), the file.

    ``saved`` holds the ``profile_overrides`` this calibration wrote; ``profile`` is the car's profile
    with them applied, so a later step drives the outputs as the car would with what is saved.
    """

    def __init__(self, config: Config, profile: Any, provider: I2CProvider, path: str, say: Callable[[str], None],
                 timing: Timing, replace: Optional[Dict[str, Any]] = None) -> None:
        self.config = config
        self.profile = profile
        self.provider = provider
        self.path = path
        self.say = say
        self.timing = timing
        self.saved = {}  # type: Dict[str, Any]
        self.channels = {}  # type: Dict[str, PulseChannel]
        self.motors = None  # type: Any  # the DC motors as the car drives them (a DCMotorOutput), DC kits only
        self.neutral_since = None  # type: Optional[float]
        self.confirmed = None  # type: Optional[bool]
        self._replace = replace or {}

    # -- what the car is ---------------------------------------------------------------------------

    @property
    def esc(self) -> bool:
        return "throttle" in self.channels

    @property
    def dc(self) -> bool:
        return self.motors is not None

    def forward_output(self) -> float:
        """The throttle output of a small forward command through the car's gain, within the limit."""
        car = self.profile.car
        return _sign(float(car.throttle_gain)) * min(BLIP_OUTPUT, float(car.max_throttle))

    def output(self, name: str) -> Any:
        """A PulseOutput on ``name``'s channel with the pulses saved so far: the car's mapping of a value."""
        from ..hardware.pca9685_servo import PulseOutput

        section = self.profile[name]
        return PulseOutput(self.channels[name].output.pwm, section.channel, section.min_us, section.center_us,
                           section.max_us, provider=self.provider, address=section.i2c_address, name=name)

    def limit_text(self) -> str:
        """``max_throttle`` in words and on the wire (ESC pulses as 12-bit counts give them, or motor duty)."""
        limit = float(self.profile.car.max_throttle)
        if self.esc:
            out = self.channels["throttle"].output
            lo, hi = throttle_window(self.profile)
            return "max_throttle %.2f: %.0f-%.0f us" % (limit, out.pulse_of_ticks(out.ticks_for(lo)),
                                                       out.pulse_of_ticks(out.ticks_for(hi)))
        if self.dc:
            return "max_throttle %.2f: %s" % (limit, self.motors.describe_limit(limit))
        return "max_throttle %.2f" % limit

    # -- outputs -----------------------------------------------------------------------------------

    def centre(self, name: str) -> None:
        """``name`` back to its saved centre (the ESC to neutral)."""
        self.channels[name].write(int(self.profile[name].center_us))
        if name == "throttle" and self.neutral_since is None:
            self.neutral_since = self.timing.clock()

    def blip(self, out: Any, value: float) -> None:
        """``value`` on ``out`` for ``blip_s``, then neutral (also if anything fails in between)."""
        try:
            out.set(value)
            self.timing.sleep(self.timing.blip_s)
        finally:
            out.neutral()

    def update_window(self) -> None:
        """The ESC's nudges held to the limit of the values saved so far."""
        if self.esc:
            self.channels["throttle"].window = throttle_window(self.profile)

    # -- the person ----------------------------------------------------------------------------------

    def choose(self, text: str, choices: Sequence[Tuple[str, str]]) -> Generator[Prompt, str, str]:
        """Ask until one of ``choices``' answers comes (``q`` quits); return it."""
        keys = [key for key, _ in choices]
        while True:
            answer = (yield Prompt(text, choices)).strip().lower()
            answer = SYNONYMS.get(answer, answer)
            if answer == "q":
                raise CalibrationAborted("calibration aborted")
            if answer in keys:
                return answer
            self.say("  answer %s, or q to quit (got %r)" % (", ".join(k or "Enter" for k in keys), answer))

    # -- the file ------------------------------------------------------------------------------------

    def save(self, updates: Mapping[str, Any], what: str) -> None:
        """Write ``updates`` into the user's ``profile_overrides`` now, and drive with them from here on."""
        body = deep_merge(self._replace, updates) if self._replace else dict(updates)
        save_user_settings({"profile_overrides": body}, path=self.path)
        self._replace = {}
        self.saved = deep_merge(self.saved, body)
        self.profile = profile_from_mapping(deep_merge(self.profile.to_dict(), body), self.profile.name)
        self.update_window()
        self.say("  saved %s in %s" % (what, self.path))

    def kept_text(self) -> str:
        """What an abort keeps: the keys saved so far and where, or that nothing was saved."""
        keys = _leaf_keys(self.saved)
        if not keys:
            return "nothing saved"
        return "kept what was confirmed (%s) in %s" % (", ".join(keys), self.path)


def _leaf_keys(tree: Mapping[str, Any], prefix: str = "") -> List[str]:
    out = []  # type: List[str]
    for key, value in tree.items():
        name = "%s.%s" % (prefix, key) if prefix else str(key)
        out += _leaf_keys(value, name) if isinstance(value, Mapping) else [name]
    return out


def _replacements(overrides: Mapping[str, Any], shipped: Mapping[str, Any]) -> Dict[str, Any]:
    """The shipped values of every key ``overrides`` sets: what replaces a user's broken overrides at the first save."""
    out = {}  # type: Dict[str, Any]
    for key, value in overrides.items():
        if key not in shipped:
            continue
        if isinstance(value, Mapping) and isinstance(shipped[key], Mapping):
            sub = _replacements(value, shipped[key])
            if sub:
                out[key] = sub
        else:
            out[key] = copy.deepcopy(shipped[key])
    return out


class GuidedStep(object):
    """One step: ``applies(session)`` says whether this car has it; ``run(session)`` is a generator that
    yields :class:`Prompt`\\ s, is sent the answers and saves what the person confirms."""

    def applies(self, session: Session) -> bool:
        return True

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        raise NotImplementedError
        yield  # pragma: no cover - makes every run() a generator


class PulseStep(GuidedStep):
    """A centre or end-point step of :mod:`jetracer.services.calibrate`, saved when confirmed."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def applies(self, session: Session) -> bool:
        return self.step.section in session.channels

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        step = self.step
        section = session.profile[step.section]
        session.say(step.text)
        values = {"center_us": int(section.center_us)}
        pulse = yield from pulse_step(step, session.channels[step.section], int(section[step.key]), values,
                                      session.say, session.limit_text())
        updates = {step.key: pulse}
        if step.key == "center_us":
            for key in ("min_us", "max_us"):
                lo, hi = step_range(key, {"center_us": pulse})
                kept = _clip(int(section[key]), lo, hi)
                if kept != int(section[key]):
                    updates[key] = kept
                    session.say("  %s.%s moves to %d us to stay %d us from the new centre (set in a later step)"
                                % (step.section, key, kept, MARGIN_US))
        session.save({step.section: updates}, ", ".join("%s.%s = %d us" % (step.section, k, v)
                                                        for k, v in sorted(updates.items())))
        session.centre(step.section)


class SteeringDirection(GuidedStep):
    """``steering = -1`` must turn the wheels LEFT and ``+1`` RIGHT; a no flips ``car.steering_gain``."""

    def applies(self, session: Session) -> bool:
        return "steering" in session.channels

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        car = session.profile.car
        gain, offset = float(car.steering_gain), float(car.steering_offset)
        out = session.output("steering")
        section = session.profile.steering
        session.say("Steering DIRECTION: the wheels turn to the car's LEFT (steering -1 with steering_gain %+.2f), as "
                    "a model or a gamepad asks for left." % gain)
        while True:
            out.set(max(-1.0, min(1.0, -gain + offset)))
            answer = yield from session.choose("  Did the wheels turn LEFT? [y = left, n = right, s = they did not "
                                               "move, r = again, q = quit] > ", LEFT_CHOICES)
            session.centre("steering")
            if answer == "r":
                continue
            if answer == "s":
                session.say("  Nothing moved: check the servo's plug on channel %d of the PCA9685 at 0x%02X (signal "
                            "wire as the board marks it) and that the servo has power (on a JetRacer the car's "
                            "battery must be on); then r to try again." % (section.channel, section.i2c_address))
                continue
            if answer == "n":
                session.say("  steering_gain %+.2f -> %+.2f: now steering -1 turns the other way" % (gain, -gain))
                gain = -gain
                continue
            out.set(max(-1.0, min(1.0, gain + offset)))
            answer = yield from session.choose("  And now RIGHT (steering +1): did the wheels turn RIGHT? [y = right, "
                                               "n = no, r = again from the left, q = quit] > ", RIGHT_CHOICES)
            session.centre("steering")
            if answer == "y":
                break
            if answer == "n":
                session.say("  The wheels did not turn both ways: check the servo horn and linkage, and the end "
                            "points (a servo pushed past its end stalls); starting again from the left.")
        session.save({"car": {"steering_gain": gain}}, "car.steering_gain = %+.2f" % gain)


class EscArming(GuidedStep):
    """Neutral held until the person says the ESC armed (at least ``arm_s``)."""

    def applies(self, session: Session) -> bool:
        return session.esc

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        section = session.profile.throttle
        session.centre("throttle")
        session.say("ESC ARMING: LIFT THE WHEELS OFF THE GROUND. Neutral (%d us) is on channel %d now. Switch the "
                    "ESC on (or off and on again): it arms after a second or two of neutral, with beeps or a "
                    "steady LED." % (section.center_us, section.channel))
        while True:
            answer = yield from session.choose("  Wheels off the ground and the ESC armed? [y = yes, n = it did not "
                                               "arm, q = quit] > ", ARMED_CHOICES)
            wait_s = session.timing.arm_s - (session.timing.clock() - session.neutral_since)
            if wait_s > 0:
                session.say("  holding neutral %.1f s more" % wait_s)
                session.timing.sleep(wait_s)
            if answer == "y":
                return
            session.say("  Check that the ESC is switched on and its battery charged, and that its plug sits on "
                        "channel %d of the PCA9685 at 0x%02X (signal wire as the board marks it); switch it off and "
                        "on again while neutral is held. Some ESCs first need their own throttle-range setup (see "
                        "its manual)." % (section.channel, section.i2c_address))


class ThrottleLimit(GuidedStep):
    """``car.max_throttle``, 0..1 of full travel (Enter keeps it); every later step and the car are held to it."""

    def applies(self, session: Session) -> bool:
        return session.esc or session.dc

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        current = float(session.profile.car.max_throttle)
        session.say("Throttle LIMIT: the largest throttle output the car may ever send, as a fraction of full travel "
                    "(%s)." % session.limit_text())
        while True:
            answer = (yield Prompt("  max_throttle from 0 to 1 (Enter keeps %.2f, q = quit) > " % current,
                                   (("", "Keep %.2f" % current),), typed=True)).strip()
            if answer.lower() == "q":
                raise CalibrationAborted("calibration aborted")
            if answer == "":
                value = current
                break
            try:
                value = float(answer)
            except ValueError:
                value = float("nan")
            if 0.0 <= value <= 1.0:
                break
            session.say("  type a number from 0 to 1, e.g. 0.5 (got %r)" % answer)
        session.save({"car": {"max_throttle": value}}, "car.max_throttle = %.2f" % value)
        session.say("  the car's throttle is limited to %s" % session.limit_text())


class ThrottleDirection(GuidedStep):
    """A short small forward pulse: "did the wheels spin FORWARD?"; a no flips ``car.throttle_gain``."""

    def applies(self, session: Session) -> bool:
        return session.esc

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        if session.forward_output() == 0.0:
            session.say("Throttle DIRECTION: not checked, max_throttle is 0 (the car never drives).")
            return
        gain = float(session.profile.car.throttle_gain)
        section = session.profile.throttle
        out = session.output("throttle")
        flips = 0
        session.say("Throttle DIRECTION: a short, small forward spin (within the limit), then neutral.")
        while True:
            value = _sign(gain) * abs(session.forward_output())
            session.say("  %.0f us for %.1f s, then neutral" % (out.pulse_for(value), session.timing.blip_s))
            session.blip(out, value)
            answer = yield from session.choose("  Did the wheels spin FORWARD? [y = forward, n = backward, s = they "
                                               "did not move, r = again, q = quit] > ", FORWARD_CHOICES)
            if answer == "y":
                break
            if answer == "s":
                session.say("  Nothing moved at %.0f us: check that the ESC armed (it beeped), its motor plugs and "
                            "its switch; an ESC whose neutral band is wide may need a larger max_throttle. r tries "
                            "again." % out.pulse_for(value))
            elif answer == "n":
                flips += 1
                session.say("  throttle_gain %+.2f -> %+.2f: a forward command now sends the other pulse; once more "
                            "to check" % (gain, -gain))
                gain = -gain
                if flips > 1:
                    session.say("  (both pulse directions spun the wheels backward as you saw them: check the motor "
                                "and the ESC's mode; channel %d)" % section.channel)
        session.save({"car": {"throttle_gain": gain}}, "car.throttle_gain = %+.2f" % gain)


class EscReverse(GuidedStep):
    """How the ESC reverses after going forward: ``direct``, ``double-tap`` or ``none`` (``throttle.reverse``)."""

    def applies(self, session: Session) -> bool:
        return session.esc

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        forward = session.forward_output()
        if forward == 0.0:
            session.say("ESC REVERSE: not checked, max_throttle is 0.")
            return
        out = session.output("throttle")
        session.say("ESC REVERSE: a short forward spin, then at once a reverse pulse (%.0f us). Many hobby ESCs only "
                    "brake at the first reverse pulse after going forward, and reverse after neutral and a second "
                    "reverse pulse." % out.pulse_for(-forward))
        while True:
            try:
                out.set(forward)
                session.timing.sleep(session.timing.blip_s)
                out.set(-forward)
                session.timing.sleep(session.timing.blip_s)
            finally:
                out.neutral()
            answer = yield from session.choose("  Did the wheels spin BACKWARD? [y = backward, n = they only stopped, "
                                               "r = again, q = quit] > ", BACKWARD_CHOICES)
            if answer == "r":
                continue
            if answer == "y":
                mode = "direct"
                break
            session.say("  Neutral was held while you answered; now a second reverse pulse.")
            session.blip(out, -forward)
            answer = yield from session.choose("  Did the wheels spin BACKWARD this time? [y = backward, n = they did "
                                               "not, r = again from the forward spin, q = quit] > ", BACKWARD_CHOICES)
            if answer != "r":
                mode = "double-tap" if answer == "y" else "none"
                break
        session.say({"direct": "  this ESC reverses at once",
                     "double-tap": "  this ESC brakes first, then reverses after neutral and reverse again",
                     "none": "  this ESC brakes but does not reverse (or is set to forward/brake)"}[mode])
        session.save({"throttle": {"reverse": mode}}, "throttle.reverse = %s" % mode)


class EscEnd(GuidedStep):
    """The ESC's backward or forward end point, named by the throttle direction found."""

    def __init__(self, forward: bool) -> None:
        self.forward = forward

    def applies(self, session: Session) -> bool:
        return session.esc

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        positive = float(session.profile.car.throttle_gain) >= 0
        key = "max_us" if positive == self.forward else "min_us"
        nudge = "+ / ++" if key == "max_us" else "- / --"
        if self.forward:
            text = ("ESC FORWARD end (%s): from neutral, nudge with %s until the wheels spin forward as fast as you "
                    "allow." % (key, nudge))
        elif session.profile.throttle.get("reverse") == "none":
            text = ("ESC BRAKE end (%s): this ESC does not reverse; nudge with %s to the pulse that brakes firmly, "
                    "or Enter to keep the saved one." % (key, nudge))
        else:
            text = ("ESC BACKWARD end (%s): from neutral, nudge with %s until the wheels spin backward as fast as "
                    "you allow (if they only brake, c goes back to neutral; nudge again)." % (key, nudge))
        yield from PulseStep(Step("throttle", key, text)).run(session)


class MotorDirections(GuidedStep):
    """Each DC motor (and PWM pair) spun slowly forward alone; a no swaps its direction channels."""

    def applies(self, session: Session) -> bool:
        return session.dc

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        from ..hardware.motorhat_dc import DCMotorOutput, motor_specs, pair_specs

        forward = session.forward_output()
        if forward == 0.0:
            session.say("Motor DIRECTIONS: not checked, max_throttle is 0.")
            return
        section = session.profile.throttle
        session.say("Motor DIRECTIONS: each motor spins slowly forward on its own for %.1f s (%.0f%% duty)."
                    % (session.timing.blip_s, 100 * abs(forward)))
        yield from session.choose("  The motors will spin: are the wheels off the ground? [y = yes, q = quit] > ",
                                  WHEELS_UP_CHOICES)
        motors, pairs = motor_specs(section), pair_specs(section)
        units = [("motors", i, "motor %d (speed channel %d, direction channels %d/%d)"
                  % (i + 1, m["pwm_channel"], m["in1_channel"], m["in2_channel"])) for i, m in enumerate(motors)]
        units += [("pwm_pairs", i, "PWM pair %d (channels %d forward / %d reverse; some boards leave it unconnected)"
                   % (i + 1, p["forward_channel"], p["reverse_channel"])) for i, p in enumerate(pairs)]
        swap = {"motors": ("in1_channel", "in2_channel"), "pwm_pairs": ("forward_channel", "reverse_channel")}
        for kind, i, name in units:
            lists = {"motors": motor_specs(session.profile.throttle), "pwm_pairs": pair_specs(session.profile.throttle)}
            flipped = False
            while True:
                spec = lists[kind][i]
                one = DCMotorOutput(session.motors.pwm, [spec] if kind == "motors" else [],
                                    [spec] if kind == "pwm_pairs" else [], session.provider, section.i2c_address)
                session.say("  %s%s" % (name, " with its direction swapped" if flipped else ""))
                session.blip(one, forward)
                answer = yield from session.choose("  Did its wheel spin FORWARD? [y = forward, n = backward, s = it "
                                                   "did not move, r = again, q = quit] > ", FORWARD_CHOICES)
                if answer == "r":
                    continue
                if answer == "s":
                    session.say("  Nothing moved: check its wires to the driver board, the battery switch and charge, "
                                "and that the motor driver at 0x%02X is the one the profile names; its channels stay "
                                "as they are." % section.i2c_address)
                    break
                if answer == "n":
                    a, b = swap[kind]
                    spec[a], spec[b] = spec[b], spec[a]
                    flipped = not flipped
                    continue
                if flipped:
                    session.save({"throttle": {kind: lists[kind]}}, "throttle.%s[%d] with %s and %s swapped"
                                 % (kind, i, swap[kind][0], swap[kind][1]))
                break


class TestPattern(GuidedStep):
    """The car built from the saved config steers left, right, centre, blips forward within the limit, stops."""

    def applies(self, session: Session) -> bool:
        return "steering" in session.channels

    def run(self, session: Session) -> Generator[Prompt, str, None]:
        moves = "steers LEFT, RIGHT, straight"
        if (session.esc or session.dc) and session.forward_output() != 0.0:
            moves += ", then spins the wheels briefly FORWARD and stops"
        session.say("TEST PATTERN: the car, built from your saved config as `jetracer drive` builds it, %s." % moves)
        while True:
            self._show(session)
            answer = yield from session.choose("  Did the car do that (%s)? [y = yes, n = no, r = again, q = quit] > "
                                               % moves, PATTERN_CHOICES)
            if answer != "r":
                break
        session.confirmed = answer == "y"

    @staticmethod
    def _show(session: Session) -> None:
        from ..car import create_car
        from ..config import load_config

        data = dict(session.config.data)
        data["profile_overrides"] = load_config(session.path).profile_overrides  # what is saved, read back
        hold_s = session.timing.hold_s
        car = create_car(Config(data, session.path, session.config.origin), i2c=session.provider)
        try:
            for value in (-1.0, 1.0, 0.0):
                car.steering = value
                session.timing.sleep(hold_s)
            gain = abs(float(car.throttle_gain))
            if (session.esc or session.dc) and gain > 0 and car.max_throttle > 0:
                car.throttle = min(1.0, BLIP_OUTPUT / gain)  # at most max_throttle on the wire: the car caps it
                session.timing.sleep(session.timing.blip_s)
                car.throttle = 0.0
        finally:
            car.close()


GUIDED_STEPS = (
    PulseStep(STEPS[0]), PulseStep(STEPS[1]), PulseStep(STEPS[2]),   # steering centre and end points
    SteeringDirection(),
    EscArming(),
    PulseStep(Step("throttle", "center_us", "ESC NEUTRAL: nudge until the wheels do not creep (Enter keeps the "
                                            "saved neutral).")),
    ThrottleLimit(),
    ThrottleDirection(),
    EscReverse(),
    EscEnd(forward=False), EscEnd(forward=True),
    MotorDirections(),
    TestPattern(),
)


class GuidedCalibration(object):
    """The guided calibration of ``config``'s car; :meth:`questions` is the walk-through as a generator.

    ``throttle=False`` calibrates the steering only. ``provider`` is the I2C provider (else the
    configured bus); ``save_path`` the file written (else the config's). ``blip_s``, ``arm_s``,
    ``hold_s`` and ``sleep``/``clock`` set the timing. Nothing touches the chips until the first
    question is asked for.
    """

    def __init__(self, config: Config, say: Callable[[str], None] = print, provider: Optional[I2CProvider] = None,
                 save_path: Optional[str] = None, throttle: bool = True, steps: Sequence[GuidedStep] = GUIDED_STEPS,
                 blip_s: float = BLIP_S, arm_s: float = ARM_S, hold_s: float = HOLD_S,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.say = say
        self.provider = provider
        self.path = save_path or config.path
        self.throttle = throttle
        self.steps = tuple(steps)
        self.timing = Timing(blip_s, arm_s, hold_s, sleep, clock)
        self.session = None  # type: Optional[Session]

    def questions(self) -> Generator[Prompt, str, Dict[str, Any]]:
        """Yield the questions, take the answers; return ``{"path", "saved", "confirmed"}``.

        ``CalibrationAborted`` (saying what was kept) on ``q`` or when an answer cannot come; the outputs
        go back to neutral however it ends.
        """
        from ..hardware import OUTPUTS, claim_motors, open_i2c
        from ..profiles import load_profile

        config = self.config
        replace = {}  # type: Dict[str, Any]
        try:
            profile = config.load_profile()
        except ProfileError:
            profile = _starting_profile(config, self.say)
            replace = _replacements(config.profile_overrides, load_profile(config.profile_name).to_dict())
        bus = config.data.get("i2c_bus")
        provider = self.provider if self.provider is not None else open_i2c(config.i2c, profile.i2c_bus
                                                                             if bus is None else bus)
        session = self.session = Session(config, profile, provider, self.path, self.say, self.timing, replace)
        claim = claim_motors(provider, [profile[name].i2c_address for name in ("steering", "throttle")])
        try:
            session.channels["steering"] = PulseChannel(provider, profile.steering)
            if self.throttle and OUTPUTS[profile.throttle.driver].pulses:  # an ESC
                session.channels["throttle"] = PulseChannel(provider, profile.throttle, throttle_window(profile))
            elif self.throttle:  # DC motors
                session.motors = _open_motors(provider, profile.throttle)
            for name in session.channels:
                session.centre(name)
            if session.dc:
                session.motors.neutral()
            self.say("Guided calibration of %s (%s I2C). Put the car on a stand with the wheels OFF THE GROUND. "
                     "Each step starts at the centre (neutral), Enter keeps the saved value, and each step is saved "
                     "in %s as soon as you confirm it; q quits and keeps what was confirmed."
                     % (profile.name, config.i2c, self.path))
            try:
                for step in self.steps:
                    if step.applies(session):
                        yield from step.run(session)
            except CalibrationAborted as e:
                raise CalibrationAborted("%s; %s" % (str(e).split(";")[0], session.kept_text()))
            except KeyboardInterrupt:
                self.say("interrupted; %s" % session.kept_text())
                raise
        finally:
            try:
                for name in session.channels:
                    session.centre(name)
                if session.dc:
                    session.motors.neutral()
            finally:
                claim.release()
        if session.confirmed is not None:
            self.say("Calibration %s. Saved in %s: %s" % ("complete" if session.confirmed else "NOT confirmed",
                                                          self.path, session.saved))
        return {"path": self.path, "saved": session.saved, "confirmed": session.confirmed}


def _open_motors(provider: I2CProvider, section: Any) -> Any:
    """The motor driver's chip and every motor on it, as the car drives them."""
    from ..hardware.motorhat_dc import DCMotorOutput, motor_specs, open_motor_driver, pair_specs

    pwm = open_motor_driver(provider, section.i2c_address, section.pwm_frequency_hz)
    return DCMotorOutput(pwm, motor_specs(section), pair_specs(section), provider, section.i2c_address)


def guided_calibrate(config: Config, ask: Callable[[str], str] = input, say: Callable[[str], None] = print,
                     **kwargs: Any) -> Dict[str, Any]:
    """The guided calibration at a terminal (``ask`` answers each question); see :class:`GuidedCalibration`."""
    return drive(GuidedCalibration(config, say=say, **kwargs).questions(), ask)
