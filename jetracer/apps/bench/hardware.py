"""How long one car command takes through the real Adafruit stack on the emulated bus.

``jetracer bench hardware [--profile latrax] [-n 2000] [--shared-file PATH]`` prints
microseconds and I2C transactions per ``car.steering = x`` and per ``car.throttle = x`` (traitlets
validation, gain/offset/limit, the driver, the emulated SMBus and the PCA9685 model), and, as a
reference measured in the same run, one channel change written Adafruit's way (``PWM.setPWM``: four
one-byte transactions) against ours (``BlockPWM.setPWM``: one block write). On a real bus each
transaction costs about 0.1 ms at 400 kHz, so the transaction count is what matters on the car.
``--shared-file`` runs on the file-backed bus that several processes share.
"""
import os
import statistics
import time
from typing import Any, Callable, Dict, List, Optional

from ...car import create_car
from ...config import load_config
from ...hardware.block_pwm import BlockPWM
from ...hardware.emulated import BUS_FILE_ENV, reset_shared_bus
from ...hardware.i2c import EmulatedI2C


def _timed(fn: Callable[[Any], None], values: List[float], repeats: int) -> float:
    runs = []  # type: List[float]
    for _ in range(repeats):
        started = time.perf_counter()
        for value in values:
            fn(value)
        runs.append((time.perf_counter() - started) / len(values) * 1e6)
    return statistics.median(runs)


def _transactions(bus: Any, fn: Callable[[Any], None], values: List[float]) -> float:
    bus.log[:] = []
    bus.logging = True
    try:
        for value in values:
            fn(value)
    finally:
        bus.logging = False
    return len([e for e in bus.log if e[1] == "w"]) / float(len(values))


def bench_commands(profile: str = "latrax", n: int = 2000, repeats: int = 5,
                   shared_file: Optional[str] = None) -> Dict[str, float]:
    """Median over ``repeats`` runs of the mean microseconds (and write transactions) per command."""
    from Adafruit_MotorHAT.Adafruit_PWM_Servo_Driver import PWM

    previous = os.environ.get(BUS_FILE_ENV)
    if shared_file:
        os.environ[BUS_FILE_ENV] = shared_file
    try:
        bus = reset_shared_bus()
        config = load_config(path=os.devnull,  # no user config: the shipped profile
                             env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile})
        car = create_car(config)
        values = [((i % 21) - 10) / 20.0 for i in range(n)]
        out = {}
        try:
            for name in ("steering", "throttle"):
                setter = lambda v, name=name: setattr(car, name, v)  # noqa: E731
                out[name + "_us"] = _timed(setter, values, repeats)
                out[name + "_transactions"] = _transactions(bus, setter, values[:200])
        finally:
            car.close()
        provider = EmulatedI2C(bus)
        ticks = [300 + (i % 21) for i in range(n)]
        for name, cls in (("adafruit_setpwm", PWM), ("block_setpwm", BlockPWM)):
            pwm = cls(0x40, i2c=provider)
            pwm.setPWMFreq(50)
            out[name + "_us"] = _timed(lambda t, pwm=pwm: pwm.setPWM(15, 0, t), ticks, repeats)
            out[name + "_transactions"] = _transactions(bus, lambda t, pwm=pwm: pwm.setPWM(15, 0, t), ticks[:200])
    finally:
        if shared_file:
            if previous is None:
                os.environ.pop(BUS_FILE_ENV, None)
            else:
                os.environ[BUS_FILE_ENV] = previous
            reset_shared_bus()  # back on this process's own bus
    return out


def format_report(r: Dict[str, float], profile: str = "latrax", shared_file: Optional[str] = None) -> str:
    """The two lines a person reads: per car command, then one channel change Adafruit's way and ours."""
    return "\n".join([
        "profile %s%s: steering %.1f us/command (%.1f I2C writes), throttle %.1f us/command (%.1f I2C writes)"
        % (profile, " on %s" % shared_file if shared_file else "", r["steering_us"],
           r["steering_transactions"], r["throttle_us"], r["throttle_transactions"]),
        "one channel change, same run: Adafruit PWM.setPWM %.1f us (%.0f writes), BlockPWM.setPWM %.1f us "
        "(%.0f write): %.1fx" % (r["adafruit_setpwm_us"], r["adafruit_setpwm_transactions"], r["block_setpwm_us"],
                                r["block_setpwm_transactions"], r["adafruit_setpwm_us"] / r["block_setpwm_us"])])
