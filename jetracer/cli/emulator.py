"""``jetracer emulator show``: the pulses the configured car profile puts on each emulated PCA9685 channel.

The emulated chips live in one process, so this builds the car on them, applies ``--steering`` and
``--throttle`` (through gains, offsets and limits) and prints every active channel: a quick check of
what a profile or calibration would send to the servo and ESC before trying it on the car.
"""
import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("emulator", help="show the pulses a command produces on the emulated chips",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("action", choices=("show",))
    parser.add_argument("--profile", default=None, help="car profile name or YAML path (default: configured)")
    parser.add_argument("--steering", type=float, default=0.0, help="car.steering in [-1, 1]")
    parser.add_argument("--throttle", type=float, default=0.0, help="car.throttle in [-1, 1]")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..car import create_car
    from ..config import load_config
    from ..hardware.emulated import PCA9685, shared_bus

    config = load_config().with_overrides(i2c="emulated", profile=args.profile)
    car = create_car(config)
    car.steering, car.throttle = args.steering, args.throttle
    print("profile %s: steering %+.3f -> output %+.3f, throttle %+.3f -> output %+.3f"
          % (car.profile.name, car.steering, car.steering_output, car.throttle, car.throttle_output))
    bus = shared_bus()
    for address in bus.scan():
        chip = bus.chip(address)
        if not isinstance(chip, PCA9685) or chip.asleep:
            continue
        print("PCA9685 0x%02X at %.2f Hz (prescale %d)" % (address, chip.frequency_hz, chip.prescale))
        for channel in range(16):
            if chip.duty(channel) > 0:
                print("  channel %2d: duty %6.2f%%  pulse %7.1f us" % (channel, 100 * chip.duty(channel), chip.pulse_us(channel)))
    car.close()
    return 0
