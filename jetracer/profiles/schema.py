"""The schema of a car profile, as data, and a validator that names every problem it finds."""
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple


class Field(object):
    """One leaf of a profile: its type, allowed range or choices, and whether it may be left out."""

    def __init__(self, kind: Any, lo: Optional[float] = None, hi: Optional[float] = None,
                 choices: Optional[Sequence[Any]] = None, required: bool = True, doc: str = "") -> None:
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.choices = choices
        self.required = required
        self.doc = doc

    def check(self, where: str, value: Any) -> List[str]:
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) and self.kind is not bool:
            return ["%s: expected %s, found %r" % (where, _kind_name(self.kind), value)]
        if isinstance(value, float) and not math.isfinite(value):
            return ["%s: expected a finite number, found %r" % (where, value)]
        if self.choices is not None and value not in self.choices:
            return ["%s: expected one of %s, found %r" % (where, ", ".join(map(str, self.choices)), value)]
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            return ["%s: expected a value in [%s, %s], found %r" % (where, self.lo, self.hi, value)]
        return []


class ListOf(object):
    """A list whose items all follow one sub-schema."""

    def __init__(self, item: Mapping[str, Any], min_len: int = 1, max_len: int = 4) -> None:
        self.item = item
        self.min_len = min_len
        self.max_len = max_len


class OneOf(object):
    """A section whose schema is chosen by the value of one of its keys (e.g. ``driver``)."""

    def __init__(self, key: str, variants: Mapping[str, Mapping[str, Any]]) -> None:
        self.key = key
        self.variants = variants


def _kind_name(kind: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(kind, str(kind))


I2C_ADDRESS = Field(int, 0x03, 0x77, doc="7-bit I2C address")
CHANNEL = Field(int, 0, 15, doc="PCA9685 channel")
PULSE_US = Field(int, 500, 2500, doc="servo pulse width in microseconds")

SERVO = {
    "i2c_address": I2C_ADDRESS,
    "pwm_frequency_hz": Field(int, 40, 400),
    "channel": CHANNEL,
    "min_us": PULSE_US,
    "center_us": PULSE_US,
    "max_us": PULSE_US,
}

SCHEMA = {
    "name": Field(str),
    "description": Field(str, required=False),
    "i2c_bus": Field(int, 0, 32),
    "car": {
        "steering_gain": Field(float, -1.0, 1.0),
        "steering_offset": Field(float, -1.0, 1.0),
        "throttle_gain": Field(float, -1.0, 1.0),
        "throttle_offset": Field(float, -1.0, 1.0),
        "max_throttle": Field(float, 0.0, 1.0),
    },
    "steering": OneOf("driver", {"pca9685_servo": SERVO}),
    "throttle": OneOf("driver", {
        "pca9685_esc": SERVO,
        "motorhat_dc": {
            "i2c_address": I2C_ADDRESS,
            # The Adafruit MotorHAT asks for 1600 Hz; the PCA9685 realises its top rate (~1526 Hz).
            "pwm_frequency_hz": Field(int, 24, 1600),
            "motors": ListOf({"pwm_channel": CHANNEL, "in1_channel": CHANNEL, "in2_channel": CHANNEL}),
        },
    }),
    "camera": {
        "sensor_id": Field(int, 0, 7),
        "capture_width": Field(int, 32, 4096),
        "capture_height": Field(int, 32, 4096),
        "capture_fps": Field(int, 1, 240),
        "width": Field(int, 16, 1024),
        "height": Field(int, 16, 1024),
        "flip": Field(str, choices=("none", "rotate-180", "horizontal", "vertical")),
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
    },
}


def validate(data: Any, schema: Any, where: str = "") -> List[str]:
    """Return a list of human-readable problems (empty when ``data`` follows ``schema``)."""
    if isinstance(schema, Field):
        return schema.check(where, data)
    if isinstance(schema, OneOf):
        if not isinstance(data, dict):
            return ["%s: expected a mapping, found %r" % (where, data)]
        variant = data.get(schema.key)
        if variant not in schema.variants:
            return ["%s.%s: expected one of %s, found %r" % (where, schema.key, ", ".join(schema.variants), variant)]
        rest = dict((k, v) for k, v in data.items() if k != schema.key)
        return validate(rest, schema.variants[variant], where)
    if isinstance(schema, ListOf):
        if not isinstance(data, list) or not schema.min_len <= len(data) <= schema.max_len:
            return ["%s: expected a list of %d to %d entries, found %r" % (where, schema.min_len, schema.max_len, data)]
        problems = []
        for i, item in enumerate(data):
            problems += validate(item, schema.item, "%s[%d]" % (where, i))
        return problems
    if not isinstance(data, dict):
        return ["%s: expected a mapping, found %r" % (where or "profile", data)]
    problems = []
    for key in data:
        if key not in schema:
            problems.append("%s: unknown key (known keys: %s)" % (_join(where, key), ", ".join(sorted(schema))))
    for key, sub in schema.items():
        if key in data:
            problems += validate(data[key], sub, _join(where, key))
        elif not (isinstance(sub, Field) and not sub.required):
            problems.append("%s: missing" % _join(where, key))
    problems += _check_pulse_order(data, where)
    return problems


def _check_pulse_order(data: Dict[str, Any], where: str) -> List[str]:
    keys = ("min_us", "center_us", "max_us")
    if all(isinstance(data.get(k), int) for k in keys) and not data["min_us"] < data["center_us"] < data["max_us"]:
        return ["%s: expected min_us < center_us < max_us, found %s" % (where, tuple(data[k] for k in keys))]
    return []


def _join(where: str, key: str) -> str:
    return "%s.%s" % (where, key) if where else key


def field_paths(schema: Any = SCHEMA, prefix: str = "") -> List[Tuple[str, Any]]:
    """Every leaf path of the schema (for documentation and the calibration tool)."""
    out = []
    if isinstance(schema, dict):
        for key, sub in schema.items():
            out += field_paths(sub, _join(prefix, key))
    elif isinstance(schema, Field):
        out.append((prefix, schema))
    return out
