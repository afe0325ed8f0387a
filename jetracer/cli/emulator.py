"""``jetracer emulator show``: the pulses on each emulated PCA9685 channel.

Without a shared bus file this builds the configured car on the emulated chips, applies
``--steering`` and ``--throttle`` (through gains, offsets and the throttle limit) and prints every
active channel: a quick check of what a profile or calibration would send to the servo and ESC.
With ``JETRACER_EMULATED_BUS=/path/bus.bin`` (the file a running ``jetracer drive`` uses), or without
it while a ``jetracer drive`` on emulated chips runs (its bus file and control socket in the runtime
directory), and no command or profile given, it only reads the live chips, so a second terminal sees what the drive process sends.
Building a car on a shared bus file claims its motor chips (:mod:`jetracer.hardware.claim`): while a
drive or a notebook's car owns them, a command is refused with one line naming the owner; reading
them never is.
"""
import argparse
from typing import Any

from .options import add_config_option, add_profile_option, load_config_from, number


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("emulator", help="show the pulses on the emulated chips",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("action", choices=("show",))
    add_config_option(parser)
    add_profile_option(parser)
    parser.add_argument("--steering", type=number(-1.0, 1.0), default=None, help="car.steering in [-1, 1] (default 0)")
    parser.add_argument("--throttle", type=number(-1.0, 1.0), default=None, help="car.throttle in [-1, 1] (default 0)")
    parser.set_defaults(func=run)


def print_chips(bus: Any) -> None:
    """Every awake PCA9685 on ``bus`` and its channels that carry a signal."""
    from ..hardware.emulated import PCA9685

    for address in bus.scan():
        chip = bus.chip(address)
        if not isinstance(chip, PCA9685):
            continue
        if chip.asleep:
            print("PCA9685 0x%02X asleep (no outputs)" % address)
            continue
        print("PCA9685 0x%02X at %.2f Hz (prescale %d)" % (address, chip.frequency_hz, chip.prescale))
        for channel, duty in enumerate(chip.duties()):
            if duty > 0:
                print("  channel %2d: duty %6.2f%%  pulse %7.1f us" % (channel, 100 * duty, duty * 1e6 / chip.frequency_hz))


def _running_drive_bus() -> Any:
    """The bus file a running ``jetracer drive`` on emulated chips made in its runtime directory, or None;
    once found, this process's emulated bus is that file."""
    import os

    from ..hardware.emulated import BUS_FILE_ENV
    from ..runtime import EMULATED_BUS_NAME, find_runtime_file

    path = find_runtime_file(EMULATED_BUS_NAME)
    if not path or not _drive_answers(os.path.dirname(path)):
        return None  # a file a finished drive left behind is not live
    os.environ[BUS_FILE_ENV] = path
    return path


def _drive_answers(folder: str) -> bool:
    """Whether a drive process of the user owning ``folder`` (a checked runtime directory) listens on its control
    socket there: :func:`jetracer.runtime.connect_private_socket` (no symlink followed, the socket's and the
    answering process's owner checked), so a socket another user planted does not make a stale bus file live.
    Raises :class:`~jetracer.runtime.RuntimeDirError` for such a socket (a one-line CLI error)."""
    import os

    from ..driving.supervisor_link import SOCKET_NAME
    from ..runtime import RuntimeDirError, connect_private_socket

    try:
        sock = connect_private_socket(os.path.join(folder, SOCKET_NAME), timeout_s=1.0)
    except RuntimeDirError:
        raise
    except OSError:
        return False  # no socket, or nobody listening
    sock.close()
    return True


def run(args: argparse.Namespace) -> int:
    from ..car import create_car
    from ..hardware.emulated import bus_file, shared_bus

    only_look = args.steering is None and args.throttle is None
    path = bus_file()
    if not path and only_look and args.profile is None and getattr(args, "config", None) is None:
        path = _running_drive_bus()
    if path and only_look:
        print("shared emulated bus %s (live)" % path)
        print_chips(shared_bus())
        return 0
    config = load_config_from(args).with_overrides(source="--profile", profile=args.profile)
    car = create_car(config.with_overrides(source="emulator show", i2c="emulated"))
    try:
        car.steering, car.throttle = args.steering or 0.0, args.throttle or 0.0
        print("profile %s: steering %+.3f -> output %+.3f, throttle %+.3f -> output %+.3f"
              % (car.profile.name, car.steering, car.steering_output, car.throttle, car.throttle_output))
        print(car.describe_throttle_limit())
        print_chips(shared_bus())
    finally:
        car.close()
    return 0
