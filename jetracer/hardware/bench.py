"""How long one car command takes through the real Adafruit stack on the emulated bus.

``python -m jetracer.hardware.bench [--profile latrax] [-n 2000]`` prints microseconds per
``car.steering = x`` and per ``car.throttle = x`` (traitlets validation, gain/offset, the driver,
Adafruit PWM.setPWM's four register writes, the emulated SMBus and the PCA9685 model). This bounds
the software cost of a command; on a real bus add four I2C transactions (about 0.1 ms each at 400 kHz).
"""
import argparse
import os
import statistics
import tempfile
import time
from typing import Dict, List, Optional


def bench_commands(profile: str = "latrax", n: int = 2000, repeats: int = 5) -> Dict[str, float]:
    """Median over ``repeats`` runs of the mean microseconds per steering and throttle command."""
    from ..car import create_car
    from ..config import load_config
    from .emulated import reset_shared_bus

    reset_shared_bus()
    config = load_config(path=os.path.join(tempfile.gettempdir(), "jetracer-bench-no-config.yaml"),
                         env={"JETRACER_I2C": "emulated", "JETRACER_PROFILE": profile})
    car = create_car(config)
    values = [((i % 21) - 10) / 20.0 for i in range(n)]
    out = {}
    try:
        for name in ("steering", "throttle"):
            runs = []  # type: List[float]
            for _ in range(repeats):
                started = time.perf_counter()
                for value in values:
                    setattr(car, name, value)
                runs.append((time.perf_counter() - started) / n * 1e6)
            out[name + "_us"] = statistics.median(runs)
    finally:
        car.close()
    return out


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="latrax")
    parser.add_argument("-n", type=int, default=2000, help="commands per run")
    args = parser.parse_args(argv)
    result = bench_commands(args.profile, args.n)
    print("profile %s: steering %.1f us/command, throttle %.1f us/command"
          % (args.profile, result["steering_us"], result["throttle_us"]))


if __name__ == "__main__":
    main()
