"""The schema of a car profile, as data, on the engine of :mod:`jetracer.schema`.

:func:`validate` (the engine's, re-exported here) checks each key on its own (type, range, choices) and
a servo's pulse order; :func:`check_profile` then checks the sections against each other and against
what the PCA9685 really does, so that no command can produce a pulse the profile did not promise: no
channel driven by two sections, one PWM frequency per chip, a motor driver's chip not shared with the
servo, and every pulse range inside the PWM period at the frequency the chip realises (PRESCALE
rounding, as the Adafruit drivers compute it).
"""
import math
from typing import Any, Dict, List, Mapping, Tuple

from ..hardware.outputs import OUTPUTS
from ..hardware.timing import TICKS, prescale_for, realised_frequency_hz, tick_range
from ..pixels import FLIPS
from ..schema import Field, ListOf, OneOf, Section, defaults, validate  # noqa: F401 (the engine's names, kept here)
from ..schema import field_paths as _field_paths

I2C_ADDRESS = Field(int, 0x03, 0x77, doc="7-bit I2C address")
CHANNEL = Field(int, 0, 15, doc="PCA9685 channel")
PULSE_US = Field(int, 500, 2500, doc="servo pulse width in microseconds")
# /dev/i2c-N. Linux numbers buses beyond 32: a Jetson's camera muxes add i2c-30 and up, a desktop's GPU
# several more; i2c-dev's minor numbers were 0-255 (I2C_MINORS 256) until kernels moved it to cdev.
I2C_BUS = Field(int, 0, 255, doc="the N of /dev/i2c-N")


def _check_pulse_order(where: str, data: Dict[str, Any]) -> List[str]:
    """A servo's or ESC's pulses in order (a rule between three keys of one section)."""
    keys = ("min_us", "center_us", "max_us")
    if all(isinstance(data.get(k), int) for k in keys) and not data["min_us"] < data["center_us"] < data["max_us"]:
        return ["%s: expected min_us < center_us < max_us, found %s" % (where, tuple(data[k] for k in keys))]
    return []


SERVO_KEYS = {
    "i2c_address": I2C_ADDRESS,
    "pwm_frequency_hz": Field(int, 40, 400),
    "channel": CHANNEL,
    "min_us": PULSE_US,
    "center_us": PULSE_US,
    "max_us": PULSE_US,
}
SERVO = Section(SERVO_KEYS, check=_check_pulse_order)

# How an ESC reverses (``jetracer calibrate`` finds out and writes it): ``direct``, a reverse pulse
# reverses; ``double-tap``, the first reverse pulse after going forward only brakes, neutral and then
# reverse again reverses (most hobby ESCs in forward/brake/reverse mode); ``none``, it brakes and
# never reverses. Left out: not known.
REVERSE_MODES = ("direct", "double-tap", "none")
# The brake of the obstacle stop (jetracer.driving.obstacle_stop): a reverse output held ``duration_s``, then
# neutral. Sent only where the first reverse pulse after going forward brakes (``reverse: double-tap`` or
# ``none``); with ``direct`` or an unknown ``reverse`` it would drive backwards, so the stop is neutral there.
BRAKE_REVERSE_MODES = ("double-tap", "none")
BRAKE = Section({
    "output": Field(float, -1.0, -0.05, doc="the reverse throttle output that brakes (what the ESC gets)"),
    "duration_s": Field(float, 0.05, 2.0, doc="how long the brake is held before neutral"),
}, required=False, doc="the obstacle stop's brake, used where throttle.reverse is double-tap or none")
ESC = Section(dict(SERVO_KEYS, reverse=Field(str, choices=REVERSE_MODES, required=False,
                                             doc="how the ESC reverses: direct, double-tap (brake first, then "
                                                 "neutral and reverse again) or none (brake only)"),
                   brake=BRAKE),
              check=_check_pulse_order)

SCHEMA = {
    "name": Field(str),
    "description": Field(str, required=False),
    "i2c_bus": I2C_BUS,
    "car": {
        "steering_gain": Field(float, -1.0, 1.0),
        "steering_offset": Field(float, -1.0, 1.0),
        "throttle_gain": Field(float, -1.0, 1.0),
        "throttle_offset": Field(float, -1.0, 1.0),
        "max_throttle": Field(float, 0.0, 1.0, doc="cap of |throttle output| (what the driver gets, after gain "
                                                   "and offset), as a fraction of full travel"),
        "throttle_ramp": Section({
            "step": Field(float, 0.01, 1.0, doc="largest rise of |throttle output| per interval"),
            "interval_s": Field(float, 0.01, 10.0),
            "immediate_below": Field(float, 0.0, 1.0, doc="|throttle output| below this is applied at once"),
        }, required=False, doc="soft start: |throttle output| rises by at most step every interval_s"),
    },
    "steering": OneOf("driver", {"pca9685_servo": SERVO}),
    "throttle": OneOf("driver", {
        "pca9685_esc": ESC,
        "motorhat_dc": {
            "i2c_address": I2C_ADDRESS,
            # The Adafruit MotorHAT asks for 1600 Hz; the PCA9685 realises its top rate (~1526 Hz).
            "pwm_frequency_hz": Field(int, 24, 1600),
            "motors": ListOf({"pwm_channel": CHANNEL, "in1_channel": CHANNEL, "in2_channel": CHANNEL,
                              "neutral": Field(str, choices=("brake", "coast"),
                                               doc="at throttle 0: brake = speed 0, IN1 low, IN2 high; "
                                                   "coast = speed 0, both inputs low")}),
            "pwm_pairs": ListOf({"forward_channel": CHANNEL, "reverse_channel": CHANNEL}, min_len=0,
                                required=False),
        },
    }),
    "camera": {
        "sensor_id": Field(int, 0, 7),
        "capture_width": Field(int, 32, 4096),
        "capture_height": Field(int, 32, 4096),
        "capture_fps": Field(int, 1, 240),
        "width": Field(int, 16, 1024),
        "height": Field(int, 16, 1024),
        "flip": Field(str, choices=FLIPS),
        "mount_height_m": Field(float, 0.02, 1.0),
        "mount_pitch_deg": Field(float, -30.0, 90.0, doc="downward tilt of the optical axis (negative: tilted up)"),
        "mount_forward_m": Field(float, -0.5, 1.0),
        "hfov_deg": Field(float, 30.0, 200.0),
        "vfov_deg": Field(float, 20.0, 200.0),
        "projection": Field(str, choices=("pinhole", "equidistant"), required=False,
                            doc="lens model for the simulator: pinhole (default) or equidistant fisheye r = f*theta"),
        "fisheye_k1": Field(float, -1.0, 1.0, required=False, doc="Kannala-Brandt theta^3 coefficient (equidistant)"),
        "fisheye_k2": Field(float, -1.0, 1.0, required=False, doc="Kannala-Brandt theta^5 coefficient (equidistant)"),
        "hood_height_frac": Field(float, 0.0, 0.5, required=False,
                                  doc="bottom fraction of the image showing the car's own hood (0 = not visible)"),
    },
    "dynamics": {
        "wheelbase_m": Field(float, 0.05, 1.0),
        "max_steer_left_deg": Field(float, 1.0, 45.0),
        "max_steer_right_deg": Field(float, 1.0, 45.0),
        "steer_tau_s": Field(float, 0.0, 1.0),
        "steer_rate_rad_s": Field(float, 0.1, 100.0),
        "max_speed_mps": Field(float, 0.1, 30.0),
        "throttle_tau_s": Field(float, 0.0, 5.0),
        "throttle_deadband": Field(float, 0.0, 0.9),
        "coast_decel_mps2": Field(float, 0.0, 20.0),
        "latency_s": Field(float, 0.0, 1.0),
        "front_overhang_m": Field(float, 0.0, 1.0, required=False, doc="front bumper ahead of the front axle"),
        "rear_overhang_m": Field(float, 0.0, 1.0, required=False, doc="rear bumper behind the rear axle"),
        "width_m": Field(float, 0.03, 1.5, required=False, doc="overall width of the car"),
    },
}


def field_paths(schema: Any = SCHEMA, prefix: str = "") -> List[Tuple[str, Any]]:
    """Every leaf path of the profile schema (for documentation and the calibration tool)."""
    return _field_paths(schema, prefix)


# -- the profile as a whole ------------------------------------------------------------------------

def check_profile(data: Mapping[str, Any]) -> List[str]:
    """Problems between sections and with the chip's timing (``data`` has passed :func:`validate`)."""
    problems = []  # type: List[str]
    for name in ("steering", "throttle"):
        if OUTPUTS[data[name]["driver"]].pulses:
            problems += _check_pulse_timing(name, data[name])
    problems += _check_chips(data)
    return problems


def _check_pulse_timing(name: str, section: Mapping[str, Any]) -> List[str]:
    asked = section["pwm_frequency_hz"]
    real = realised_frequency_hz(asked)
    period = 1e6 / real
    lo_us, mid_us, hi_us = section["min_us"], section["center_us"], section["max_us"]
    lo, hi = tick_range(lo_us, hi_us, real)
    where = "%s.pwm_frequency_hz %d runs at %.2f Hz on the PCA9685 (PRESCALE %d), a period of %.1f us" % (
        name, asked, real, prescale_for(asked), period)
    per_us = real * TICKS / 1e6
    if hi >= TICKS:
        fits = [f for f in range(int(asked), 0, -1) if tick_range(lo_us, hi_us, realised_frequency_hz(f))[1] < TICKS]
        return ["%s.max_us %d does not fit the PWM period: %s, so a full command would give no pulse; lower "
                "%s.max_us to %d or less or %s.pwm_frequency_hz to %d or less"
                % (name, hi_us, where, name, int(math.floor((TICKS - 1) / per_us + 1e-9)), name, fits[0] if fits else 1)]
    mid = int(mid_us * per_us + 0.5)
    if not lo < mid < hi:
        return ["%s: min_us %d, center_us %d, max_us %d are less than one PCA9685 step apart (%.1f us at %.2f Hz), "
                "so a command would not move the pulse; widen the range" % (name, lo_us, mid_us, hi_us, 1 / per_us, real)]
    return []


def _chip_users(data: Mapping[str, Any]) -> List[Tuple[str, int, int, List[Tuple[str, int]]]]:
    """``(section, address, frequency_hz, [(key, channel), ...])`` for every section that drives a chip."""
    users = []
    for name in ("steering", "throttle"):
        s = data[name]
        channels = OUTPUTS[s["driver"]].named_channels_of(s, name)
        users.append((name, s["i2c_address"], s["pwm_frequency_hz"], channels))
    return users


def _check_chips(data: Mapping[str, Any]) -> List[str]:
    problems = []
    users = _chip_users(data)
    by_address = {}  # type: Dict[int, List[Tuple[str, int, int, List[Tuple[str, int]]]]]
    for user in users:
        by_address.setdefault(user[1], []).append(user)
    for address, on_chip in sorted(by_address.items()):
        driver = data["throttle"]["driver"]
        if len(on_chip) > 1 and OUTPUTS[driver].own_chip:
            problems.append("throttle.i2c_address 0x%02X is also steering.i2c_address: a %s throttle needs "
                            "its own PCA9685 (its PWM runs at motor frequencies, no servo pulse fits); give the motor "
                            "driver's address (0x60 on the Waveshare kit)" % (address, driver))
            continue
        frequencies = sorted(set((u[2], u[0]) for u in on_chip))
        if len(set(f for f, _ in frequencies)) > 1:
            (a_hz, a), (b_hz, b) = frequencies[0], frequencies[-1]
            problems.append("%s.pwm_frequency_hz and %s.pwm_frequency_hz share the PCA9685 at 0x%02X but ask for "
                            "%g Hz (%s) and %g Hz (%s); one chip has one PWM frequency: make them equal"
                            % (a, b, address, a_hz, a, b_hz, b))
        seen = {}  # type: Dict[int, str]
        for _, _, _, channels in on_chip:
            for key, channel in channels:
                if channel in seen:
                    problems.append("%s and %s are both channel %d of the PCA9685 at 0x%02X: one channel drives one "
                                    "input; give one of them a free channel" % (seen[channel], key, channel, address))
                else:
                    seen[channel] = key
    return problems
