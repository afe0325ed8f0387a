"""Interactive calibration: steering centre and end points, ESC neutral/forward/reverse, saved to the user config.

The person nudges a raw pulse with ``+``/``-`` (10 us) or ``++``/``--`` (50 us), types a number to jump to
it, and confirms with an empty line (``q`` aborts, nothing saved). Each step starts from the current
value, so Enter through everything keeps the calibration. Pulses go straight to the PCA9685
channel the profile names (real chip or, with ``JETRACER_I2C=emulated``, the emulated one). The result
is written as ``profile_overrides`` with :func:`jetracer.config.save_user_settings`, which validates
before writing and keeps the file's comments, and which the car loads.
``ask`` and ``say`` are injectable so the walk-through is testable without a terminal.
"""
from typing import Any, Callable, Dict, Optional

from ..config import Config, save_user_settings

STEPS = (
    ("steering", "center_us", "Steering CENTRE: nudge until the front wheels point straight ahead."),
    ("steering", "min_us", "Steering one END (min_us): lowest pulse before the servo strains or stops moving."),
    ("steering", "max_us", "Steering other END (max_us): highest pulse before the servo strains or stops moving."),
    ("throttle", "center_us", "ESC NEUTRAL: LIFT THE WHEELS OFF THE GROUND. Nudge until the motor does not creep."),
    ("throttle", "max_us", "ESC full FORWARD pulse (max_us): wheels spin forward; stop at the fastest you allow."),
    ("throttle", "min_us", "ESC full REVERSE pulse (min_us): wheels spin backward (some ESCs need neutral first)."),
)
NUDGES = {"+": 10, "-": -10, "++": 50, "--": -50}
LOWEST_US, HIGHEST_US = 500, 2500  # the profile schema's pulse range
MARGIN_US = 100                    # an end point closer than this to the centre gives no usable travel


class CalibrationAborted(RuntimeError):
    """The person typed ``q``: nothing was saved and the outputs were left at neutral."""


class PulseChannel(object):
    """Raw pulses on one PCA9685 channel of the profile (500-2500 us accepted, the schema's range)."""

    def __init__(self, provider: Any, section: Any) -> None:
        from ..hardware.pca9685_servo import PulseOutput, open_pca9685

        pwm = open_pca9685(provider, section.i2c_address, section.pwm_frequency_hz, "the calibration PCA9685")
        self.output = PulseOutput(pwm, section.channel, 500, section.center_us, 2500, provider=provider,
                                  address=section.i2c_address, name="calibration")

    def write(self, pulse_us: int) -> None:
        out = self.output
        out.pwm.setPWM(out.channel, 0, out.ticks_for(pulse_us))


def _ask_pulse(ask: Callable[[str], str], say: Callable[[str], None], channel: PulseChannel, start: int,
               lo: int, hi: int) -> int:
    pulse = start
    while True:
        pulse = max(lo, min(hi, pulse))
        channel.write(pulse)
        answer = ask("  pulse %d us  [+ - ++ -- number, Enter = ok, q = quit] > " % pulse).strip()
        if answer == "":
            return pulse
        if answer.lower() == "q":
            raise CalibrationAborted("calibration aborted; nothing saved")
        if answer in NUDGES:
            pulse += NUDGES[answer]
        elif answer.isdigit():
            pulse = int(answer)
        else:
            say("  type +, -, ++, --, a pulse in us, Enter to accept or q to quit (got %r)" % answer)


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


def step_range(key: str, values: Dict[str, int]) -> Any:
    """Allowed pulses for ``key`` given the centre chosen: end points at least :data:`MARGIN_US` from it."""
    if key == "center_us":
        return LOWEST_US + MARGIN_US, HIGHEST_US - MARGIN_US
    if key == "min_us":
        return LOWEST_US, values["center_us"] - MARGIN_US
    return values["center_us"] + MARGIN_US, HIGHEST_US


def calibrate(config: Config, ask: Callable[[str], str] = input, say: Callable[[str], None] = print,
              provider: Any = None, save_path: Optional[str] = None, throttle: bool = True) -> Dict[str, Any]:
    """Walk through :data:`STEPS`, save the pulses as profile overrides, return them.

    Each step starts from the current value (Enter through every step keeps the calibration), kept
    inside the allowed range: end points at least :data:`MARGIN_US` from the centre, everything within
    the profile schema's 500..2500 us. The throttle steps are skipped for a DC-motor profile (no ESC
    pulses) or with ``throttle=False``. Outputs go back to (the new) neutral at the end, also on abort.
    Nothing is saved unless the car can load the result (``ConfigError`` naming the file otherwise).
    """
    from ..hardware import open_i2c

    profile = _starting_profile(config, say)
    bus = config.data.get("i2c_bus")
    provider = provider if provider is not None else open_i2c(config.i2c, profile.i2c_bus if bus is None else bus)
    result = {}  # type: Dict[str, Dict[str, int]]
    channels = {}  # type: Dict[str, PulseChannel]
    sections = ["steering"] + (["throttle"] if throttle and profile.throttle.driver == "pca9685_esc" else [])
    for name in sections:
        channels[name] = PulseChannel(provider, profile[name])
        channels[name].write(profile[name].center_us)
    say("Calibrating %s (%s I2C). Put the car on a stand with the wheels free." % (profile.name, config.i2c))
    try:
        for name, key, text in STEPS:
            if name not in channels:
                continue
            say(text)
            values = result.setdefault(name, {})
            lo, hi = step_range(key, values)
            values[key] = _ask_pulse(ask, say, channels[name], int(profile[name][key]), lo, hi)
            if key != "center_us":
                channels[name].write(values["center_us"])
    finally:
        for name, channel in channels.items():
            channel.write(result.get(name, {}).get("center_us", profile[name].center_us))
    path = save_user_settings({"profile_overrides": result}, path=save_path or config.path)
    say("Saved to %s: %s" % (path, result))
    return result
