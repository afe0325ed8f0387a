"""Interactive calibration: steering centre and end points, ESC neutral/forward/reverse, saved to the user config.

The walk-through is :data:`STEPS` (data: a section, the key it sets, what to tell the person), so a
guided calibration can add or reorder steps. In every step the outputs start at neutral:

* a centre step puts the current centre on the channel (for the ESC that is neutral: nothing moves);
* an end-point step leaves the channel at the centre just chosen. The person nudges from there
  towards the end with ``+``/``-`` (10 us) or ``++``/``--`` (50 us), confirming each nudge, or types
  a pulse. Enter while the channel is still at the centre keeps the saved end point *without*
  putting it on the wire; Enter after moving saves where the channel is. An end step only moves to
  its own side of the centre, and the channel goes back to the centre after it. ``c`` puts the
  channel back at the centre (an ESC that only brakes at the first reverse pulse reverses after neutral).

The ESC is held to the car's throttle limit: ``max_throttle`` of the configured profile mapped to
pulses as the car maps it (:meth:`~jetracer.hardware.pca9685_servo.PulseOutput.pulse_for`), e.g.
898-2098 us for the LaTrax. A nudge stops at the limit and says so; only a pulse typed past it, and
then confirmed with ``y``, reaches the ESC (and nudges may then go up to that pulse). ``q`` aborts and
saves nothing. Everything stays in the schema's 500..2500 us, end points at least :data:`MARGIN_US`
from the centre. Calibration owns the motor chips while it runs (:mod:`jetracer.hardware.claim`):
it refuses, with one line naming the owner, while a drive service, a notebook's car or another
calibration has them. The result is written as ``profile_overrides`` with
:func:`jetracer.config.save_user_settings`, which validates before writing and keeps the file's
comments, and which the car loads. ``ask`` and ``say`` are injectable so the walk-through is
testable without a terminal. A step is a generator (:func:`pulse_step`) that yields its questions as
:class:`Prompt`\\ s and is sent the answers, so a terminal (:func:`drive` with ``ask``) and a notebook
widget (buttons) run the same code; :mod:`jetracer.services.guided_calibration` builds the guided
calibration (directions, arming, reverse, limit, test pattern) on these steps.
"""
from collections import namedtuple
from typing import Any, Callable, Dict, Generator, Optional, Sequence, Tuple

from ..config import Config, save_user_settings
from ..errors import Failure
from ..hardware.i2c import I2CProvider

Step = namedtuple("Step", "section key text")
Step.__doc__ = """One calibration step: the profile ``section`` (steering/throttle), the pulse ``key`` it sets, what to say."""

STEPS = (
    Step("steering", "center_us", "Steering CENTRE: nudge until the front wheels point straight ahead."),
    Step("steering", "min_us", "Steering one END (min_us): from the centre, nudge with - / -- to the lowest pulse "
                               "before the servo strains or stops moving."),
    Step("steering", "max_us", "Steering other END (max_us): from the centre, nudge with + / ++ to the highest "
                               "pulse before the servo strains or stops moving."),
    Step("throttle", "center_us", "ESC NEUTRAL: LIFT THE WHEELS OFF THE GROUND. Nudge until the motor does not creep."),
    Step("throttle", "max_us", "ESC FORWARD end (max_us): from neutral, nudge with + / ++ until the wheels spin "
                               "forward as fast as you allow."),
    Step("throttle", "min_us", "ESC REVERSE end (min_us): from neutral, nudge with - / -- until the wheels spin "
                               "backward (some ESCs need neutral first)."),
)
NUDGES = {"+": 10, "-": -10, "++": 50, "--": -50}
LOWEST_US, HIGHEST_US = 500, 2500  # the profile schema's pulse range
MARGIN_US = 100                    # an end point closer than this to the centre gives no usable travel
YES = ("y", "yes")


class CalibrationAborted(Failure):
    """The person typed ``q``: nothing was saved and the outputs were left at neutral."""


class PulseChannel(object):
    """Raw pulses on one PCA9685 channel of the profile (500-2500 us accepted, the schema's range).

    ``window`` (lo, hi) is where nudges may take the channel: the throttle limit for the ESC, the
    schema's range for a servo.
    """

    def __init__(self, provider: I2CProvider, section: Any,
                 window: Tuple[float, float] = (LOWEST_US, HIGHEST_US)) -> None:
        from ..hardware.pca9685_servo import PulseOutput, open_pca9685

        pwm = open_pca9685(provider, section.i2c_address, section.pwm_frequency_hz, "the calibration PCA9685")
        self.output = PulseOutput(pwm, section.channel, LOWEST_US, section.center_us, HIGHEST_US, provider=provider,
                                  address=section.i2c_address, name="calibration")
        self.window = window

    def write(self, pulse_us: int) -> None:
        out = self.output
        out.pwm.setPWM(out.channel, 0, out.ticks_for(pulse_us))


def throttle_window(profile: Any) -> Tuple[float, float]:
    """The ESC pulses the car may send: ``max_throttle`` of ``profile`` each side of neutral, as the car maps it."""
    section = profile.throttle
    limit = float(profile.car.max_throttle)
    centre = float(section.center_us)
    return (centre - limit * (centre - float(section.min_us)), centre + limit * (float(section.max_us) - centre))


def step_range(key: str, values: Dict[str, int]) -> Tuple[int, int]:
    """Allowed pulses for ``key`` given the centre chosen: end points at least :data:`MARGIN_US` from it."""
    if key == "center_us":
        return LOWEST_US + MARGIN_US, HIGHEST_US - MARGIN_US
    if key == "min_us":
        return LOWEST_US, values["center_us"] - MARGIN_US
    return values["center_us"] + MARGIN_US, HIGHEST_US


def travel(key: str, values: Dict[str, int]) -> Tuple[int, int]:
    """Where the channel may go in the step for ``key``: an end step only on its own side of the centre."""
    if key == "center_us":
        return step_range(key, values)
    centre = values["center_us"]
    return (LOWEST_US, centre) if key == "min_us" else (centre, HIGHEST_US)


def _clip(value: float, lo: float, hi: float) -> int:
    return int(round(max(lo, min(hi, value))))


class Prompt(str):
    """A question for the person: its text (what a terminal prints, so ``ask(prompt)`` works as before) and,
    for a widget, the answers to offer as buttons (``choices``: ``(answer, label)`` pairs) and whether a
    typed answer is taken too (``typed``)."""

    def __new__(cls, text: str, choices: Sequence[Tuple[str, str]] = (), typed: bool = False) -> "Prompt":
        prompt = str.__new__(cls, text)
        prompt.choices = tuple(choices)
        prompt.typed = typed
        return prompt


PULSE_CHOICES = (("--", "-50 us"), ("-", "-10 us"), ("+", "+10 us"), ("++", "+50 us"), ("c", "centre"), ("", "OK"))
SEND_CHOICES = (("y", "Send it"), ("n", "Don't send"))


def drive(questions: Generator[Prompt, str, Any], ask: Callable[[str], str]) -> Any:
    """Run a walk-through generator with ``ask``: each prompt it yields is asked, the answer sent back; its result.

    An exception from ``ask`` (input ended, Ctrl-C) is thrown into the walk-through, so it leaves the
    outputs at neutral and says what it kept before the exception goes on.
    """
    try:
        prompt = next(questions)
        while True:
            try:
                answer = ask(prompt)
            except BaseException as e:
                prompt = questions.throw(e)
                continue
            prompt = questions.send(answer)
    except StopIteration as done:
        return done.value


def pulse_step(step: Step, channel: PulseChannel, saved: int, values: Dict[str, int], say: Callable[[str], None],
               limit_text: str = "") -> Generator[Prompt, str, int]:
    """One step as a generator (yields prompts, is sent the answers, returns the pulse); see :func:`run_step`."""
    lo, hi = step_range(step.key, values)
    keep = _clip(saved, lo, hi)
    if step.key == "center_us":
        start = keep
    else:
        start = values["center_us"]
        if keep != saved:
            say("  (the saved %d us is too close to the new centre: Enter at the centre keeps %d us)" % (saved, keep))
    side_lo, side_hi = travel(step.key, values)
    window_lo, window_hi = min(channel.window[0], start), max(channel.window[1], start)
    pulse = start
    channel.write(pulse)
    while True:
        where = "centre; Enter keeps %d us" % keep if pulse == start and step.key != "center_us" else "Enter = ok"
        answer = (yield Prompt("  pulse %d us (%s)  [+ - ++ -- c = centre, number, q = quit] > " % (pulse, where),
                               PULSE_CHOICES, typed=True)).strip()
        if answer == "":
            if pulse == start:
                return keep
            if lo <= pulse <= hi:
                return pulse
            say("  an end point must be at least %d us from the centre (%d us): nudge on, or type a pulse"
                % (MARGIN_US, values["center_us"]))
            continue
        if answer.lower() == "q":
            raise CalibrationAborted("calibration aborted; nothing saved")
        if answer.lower() == "c":
            target = start
            if target == pulse:
                say("  already at the centre")
                continue
        elif answer in NUDGES:
            wanted = _clip(pulse + NUDGES[answer], side_lo, side_hi)
            target = _clip(wanted, window_lo, window_hi)
            if target != wanted:
                say("  the throttle limit stops here (%s); type a pulse to go past it" % limit_text)
            elif target == pulse:
                say("  already at the %s" % ("centre" if pulse == start else "end of the range"))
            if target == pulse:
                continue
        elif answer.isdigit():
            target = _clip(int(answer), lo, hi)
            if not window_lo <= target <= window_hi:
                reply = (yield Prompt("  %d us is past the throttle limit (%s): the wheels will spin harder than the "
                                      "car ever drives them. Send it? [y/N] > " % (target, limit_text),
                                      SEND_CHOICES)).strip().lower()
                if reply not in YES:
                    say("  not sent; the ESC stays at %d us" % pulse)
                    continue
                window_lo, window_hi = min(window_lo, target), max(window_hi, target)
        else:
            say("  type +, -, ++, --, c, a pulse in us, Enter to accept or q to quit (got %r)" % answer)
            continue
        pulse = target
        channel.write(pulse)


def run_step(step: Step, channel: PulseChannel, saved: int, values: Dict[str, int], ask: Callable[[str], str],
             say: Callable[[str], None], limit_text: str = "") -> int:
    """One step: the chosen pulse for ``step.key`` (``saved`` is the configured one; ``values`` what this
    walk-through chose so far in the section). Starts at neutral; see the module docstring."""
    return drive(pulse_step(step, channel, saved, values, say, limit_text), ask)


def _starting_profile(config: Config, say: Callable[[str], None]) -> Any:
    """The profile the steps start from: the car's as configured, or the shipped one when the user's
    overrides are invalid (said, and replaced by what is saved)."""
    from ..profiles import ProfileError, load_profile

    try:
        return config.load_profile()
    except ProfileError as e:
        say("Your config's calibration cannot be loaded (%s). Starting from the %s profile's shipped values; "
            "saving replaces the broken ones." % (e, config.profile_name))
        return load_profile(config.profile_name)


def calibrate(config: Config, ask: Callable[[str], str] = input, say: Callable[[str], None] = print,
              provider: Optional[I2CProvider] = None, save_path: Optional[str] = None,
              throttle: bool = True) -> Dict[str, Any]:
    """Walk through :data:`STEPS`, save the pulses as profile overrides, return them.

    The throttle steps are skipped for a DC-motor profile (no ESC pulses) or with ``throttle=False``.
    Outputs go back to (the new) neutral at the end, also on abort. Nothing is saved unless the car
    can load the result (``ConfigError`` naming the file otherwise). ``MotorsClaimed`` (nothing
    written) while another process owns the motor chips.
    """
    from ..hardware import OUTPUTS, claim_motors, open_i2c

    profile = _starting_profile(config, say)
    bus = config.data.get("i2c_bus")
    provider = provider if provider is not None else open_i2c(config.i2c, profile.i2c_bus if bus is None else bus)
    sections = ["steering"] + (["throttle"] if throttle and OUTPUTS[profile.throttle.driver].pulses else [])
    claim = claim_motors(provider, [profile[name].i2c_address for name in ("steering", "throttle")])
    result = {}  # type: Dict[str, Dict[str, int]]
    channels = {}  # type: Dict[str, PulseChannel]
    window = throttle_window(profile)
    limit_text = ""
    try:
        for name in sections:
            channels[name] = PulseChannel(provider, profile[name], window if name == "throttle" else
                                          (LOWEST_US, HIGHEST_US))
            channels[name].write(profile[name].center_us)
        if "throttle" in channels:
            out = channels["throttle"].output  # the limit as the wire shows it (12-bit counts), as the car says it
            limit_text = "max_throttle %.2f: %.0f-%.0f us" % (
                float(profile.car.max_throttle), out.pulse_of_ticks(out.ticks_for(window[0])),
                out.pulse_of_ticks(out.ticks_for(window[1])))
        say("Calibrating %s (%s I2C). Put the car on a stand with the wheels free. Each step starts at the centre "
            "(neutral); Enter there keeps the saved value." % (profile.name, config.i2c))
        try:
            for step in STEPS:
                if step.section not in channels:
                    continue
                if step.section == "throttle" and step.key == "center_us":
                    say("The ESC is held to the car's throttle limit (%s); type a pulse to go past it (you will be "
                        "asked to confirm)." % limit_text)
                say(step.text)
                values = result.setdefault(step.section, {})
                values[step.key] = run_step(step, channels[step.section], int(profile[step.section][step.key]),
                                            values, ask, say, limit_text)
                if step.key != "center_us":
                    channels[step.section].write(values["center_us"])
        finally:
            for name, channel in channels.items():
                channel.write(result.get(name, {}).get("center_us", profile[name].center_us))
    finally:
        claim.release()
    path = save_user_settings({"profile_overrides": result}, path=save_path or config.path)
    say("Saved to %s: %s" % (path, result))
    return result
