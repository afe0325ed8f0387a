"""DC drive motors on a motor-driver PCA9685 (Waveshare JetRacer: PCA9685 at 0x60 + H-bridges).

The channel map and the neutral come from the car profile (``throttle.motors``, ``throttle.pwm_pairs``):

* a *motor* is an H-bridge with a speed PWM channel and two direction inputs (TB6612FNG style):
  forward = IN1 high, IN2 low; backward = IN1 low, IN2 high; the speed channel carries ``|value|`` as
  a 12-bit duty. Its ``neutral`` is ``brake`` (speed 0 with IN1 low and IN2 high: the TB6612's short
  brake, which is what Waveshare's own code leaves at throttle 0) or ``coast`` (speed 0, both inputs low).
* a *PWM pair* is a bridge driven by two PWM inputs: ``forward_channel`` carries the duty going
  forward, ``reverse_channel`` going backward, the other one is low; neutral is both low (coast).

Every channel change is one I2C block write (:class:`~jetracer.hardware.block_pwm.BlockPWM`), and a
change of direction first takes the speed to 0, then moves the direction inputs, then sets the new
speed, so no state in between drives a motor harder, or the other way, than the old or the new command.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .base import DRIVING, NEUTRAL, OTHER, Output, checked_value, join_key
from .block_pwm import BlockPWM
from .i2c import I2CProvider, i2c_errors
from .pca9685_servo import open_pca9685, programmed_frequency_hz
from .timing import TICKS

WHAT = "the motor driver PCA9685"
MOTOR_CHANNELS = ("pwm_channel", "in1_channel", "in2_channel")
PAIR_CHANNELS = ("forward_channel", "reverse_channel")


def open_motor_driver(provider: I2CProvider, address: int, frequency_hz: float) -> BlockPWM:
    """The motor driver's PCA9685 (a BlockPWM) at ``frequency_hz`` (I2CError if the chip is absent)."""
    return open_pca9685(provider, address, frequency_hz, WHAT)


def duty_ticks(value: float) -> int:
    """``|value|`` as 12-bit counts (0..4096; 4096 = constantly high)."""
    return int(min(TICKS, round(abs(value) * TICKS)))


class DCMotorOutput(Output):
    """The throttle as DC motors (and PWM pairs) on one PCA9685, all driven with the same command.

    Neutral on the wire is every speed and pair channel at zero duty with each motor's inputs as its
    profile ``neutral`` says; stopped motors with other inputs are neither neutral nor driving.
    """

    kinds = ("motorhat_dc",)
    unit = "duty"
    own_chip = True
    chip = "motor-driver PCA9685"

    def __init__(self, pwm: BlockPWM, motors: Sequence[Mapping[str, Any]], pwm_pairs: Sequence[Mapping[str, Any]] = (),
                 provider: Optional[I2CProvider] = None, address: int = 0x60) -> None:
        self.pwm = pwm
        self.motors = [dict(m) for m in motors]
        self.pwm_pairs = [dict(p) for p in pwm_pairs]
        self.spec = {"motors": self.motors, "pwm_pairs": self.pwm_pairs}
        self._provider = provider
        self._address = address
        with i2c_errors(provider, address, WHAT):
            self.frequency_hz = programmed_frequency_hz(pwm)
        self.direction = None  # type: Optional[str]  # unknown until the first command
        self.ticks = 0

    @classmethod
    def from_section(cls, pwm: BlockPWM, section: Any, provider: Optional[I2CProvider] = None,
                     name: str = "throttle") -> "DCMotorOutput":
        return cls(pwm, motor_specs(section), pair_specs(section), provider, section.i2c_address)

    @classmethod
    def open(cls, provider: I2CProvider, section: Any, name: str, chips: Dict[int, BlockPWM]) -> "DCMotorOutput":
        """The motor driver's chip is its own (:attr:`own_chip`): always opened here."""
        pwm = chips[section.i2c_address] = open_motor_driver(provider, section.i2c_address, section.pwm_frequency_hz)
        return cls.from_section(pwm, section, provider, name)

    # -- channel writes ------------------------------------------------------------------------

    def _duty(self, channel: int, ticks: int) -> None:
        if ticks <= 0:
            self.pwm.set_full(channel, False)
        elif ticks >= TICKS:
            self.pwm.set_full(channel, True)
        else:
            self.pwm.setPWM(channel, 0, ticks)

    def _apply(self, direction: str, ticks: int) -> None:
        """Put every bridge in ``direction`` ("forward", "backward", "neutral") at ``ticks`` of duty."""
        same = direction == self.direction
        zeroed = False
        if not same:
            if self.direction is None or self.ticks > 0:  # unknown or moving: speed to 0 before the direction
                for channel in self._speed_channels():
                    self._duty(channel, 0)
                zeroed = True
            for motor in self.motors:
                in1, in2 = {"forward": (True, False), "backward": (False, True)}.get(
                    direction, (False, motor["neutral"] == "brake"))
                # the input going low first: the bridge passes through "both low" (no drive), never "both high"
                for channel, high in sorted(((motor["in1_channel"], in1), (motor["in2_channel"], in2)), key=lambda c: c[1]):
                    self.pwm.set_full(channel, high)
        if not (zeroed and ticks == 0):
            for motor in self.motors:
                self._duty(motor["pwm_channel"], ticks)
            for pair in self.pwm_pairs:
                if direction != "neutral":
                    self._duty(pair["forward_channel" if direction == "forward" else "reverse_channel"], ticks)
                elif not zeroed:
                    self._duty(pair["forward_channel"], 0)
                    self._duty(pair["reverse_channel"], 0)
        self.direction, self.ticks = direction, ticks

    def _speed_channels(self) -> List[int]:
        return [m["pwm_channel"] for m in self.motors] + [c for p in self.pwm_pairs
                                                          for c in (p["forward_channel"], p["reverse_channel"])]

    # -- the output interface ------------------------------------------------------------------

    def set(self, value: float) -> None:
        value = checked_value(value)
        ticks = duty_ticks(value)
        if ticks == 0:
            self.neutral()
            return
        with i2c_errors(self._provider, self._address, WHAT):
            self._apply("forward" if value > 0 else "backward", ticks)

    def neutral(self) -> None:
        """Zero duty; each motor brakes or coasts as its profile entry says."""
        with i2c_errors(self._provider, self._address, WHAT):
            self._apply("neutral", 0)

    @property
    def speed(self) -> int:
        """The duty in 12-bit counts (0 at neutral)."""
        return self.ticks

    def describe_limit(self, limit: float) -> str:
        channels = self._speed_channels()
        return "motor duty at most %.1f%% (%d/4096) on channels %s at %.0f Hz" % (
            100.0 * duty_ticks(limit) / TICKS, duty_ticks(limit), ", ".join(map(str, sorted(channels))), self.frequency_hz)

    # -- the wire, for a profile section ----------------------------------------------------------

    @classmethod
    def named_channels_of(cls, section: Any, where: str = "") -> List[Tuple[str, int]]:
        """Each motor's speed and direction channels, then each pair's forward and reverse channel."""
        channels = []  # type: List[Tuple[str, int]]
        for i, motor in enumerate(section["motors"]):
            channels += [(join_key(where, "motors[%d].%s" % (i, k)), int(motor[k])) for k in MOTOR_CHANNELS]
        for i, pair in enumerate(section.get("pwm_pairs") or []):
            channels += [(join_key(where, "pwm_pairs[%d].%s" % (i, k)), int(pair[k])) for k in PAIR_CHANNELS]
        return channels

    @classmethod
    def read_back_of(cls, section: Any, duties: Union[Sequence[float], Dict[int, float]],
                     frequency_hz: Optional[float]) -> Dict[str, Any]:
        """Each motor's ``duty``, ``in1`` and ``in2`` and each pair's ``forward``/``reverse`` duty."""
        return {"motors": [{"duty": duties[int(m["pwm_channel"])], "in1": duties[int(m["in1_channel"])],
                            "in2": duties[int(m["in2_channel"])]} for m in section["motors"]],
                "pwm_pairs": [{"forward": duties[int(p["forward_channel"])],
                               "reverse": duties[int(p["reverse_channel"])]} for p in section.get("pwm_pairs") or []]}

    @classmethod
    def state_of(cls, section: Any, back: Dict[str, Any], frequency_hz: Optional[float]) -> Tuple[str, Optional[float]]:
        """Off is the largest speed or pair duty (0..1)."""
        off = max([0.0] + [m["duty"] for m in back["motors"]]
                  + [d for p in back["pwm_pairs"] for d in (p["forward"], p["reverse"])])
        if off > 0:
            return DRIVING, off
        braked = all((m["in1"], m["in2"]) == (0.0, 1.0 if spec["neutral"] == "brake" else 0.0)
                     for m, spec in zip(back["motors"], section["motors"]))
        return (NEUTRAL if braked else OTHER), off

    @classmethod
    def half_tick_of(cls, section: Any, frequency_hz: Optional[float]) -> float:
        return 0.5 / TICKS

    def __repr__(self) -> str:
        return "DCMotorOutput(%d motors, %d PWM pairs at 0x%02X)" % (len(self.motors), len(self.pwm_pairs), self._address)


def motor_specs(section: Any) -> List[Mapping[str, Any]]:
    """The profile's ``motors`` entries as plain dicts."""
    return [m.to_dict() for m in section.motors]


def pair_specs(section: Any) -> List[Mapping[str, Any]]:
    return [p.to_dict() for p in section.get("pwm_pairs", None) or []]
