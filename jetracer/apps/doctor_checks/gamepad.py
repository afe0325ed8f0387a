"""A gamepad: an evdev input device with a gamepad's buttons (what ``jetracer drive`` looks for)."""
import os
from typing import Any, List, Tuple

from .base import Context, Finding
from .probe import one_line

INSTALL = "pip3 install evdev (or pip3 install -e '.[jetson]' in the jetracer folder)"


def gamepads(evdev: Any) -> Tuple[List[str], List[str]]:
    """``(["/dev/input/event5 (Logitech Gamepad F710)"], [unreadable device paths])``."""
    found, denied = [], []
    for path in evdev.list_devices():
        try:
            device = evdev.InputDevice(path)
        except OSError:
            denied.append(path)
            continue
        try:
            caps = device.capabilities()
            keys = caps.get(evdev.ecodes.EV_KEY, [])
            if (evdev.ecodes.BTN_SOUTH in keys or evdev.ecodes.BTN_GAMEPAD in keys) and evdev.ecodes.EV_ABS in caps:
                found.append("%s (%s)" % (path, device.name))
        finally:
            close = getattr(device, "close", None)
            if close is not None:
                close()
    return found, denied


def check_gamepad(context: Context) -> Finding:
    """Is a gamepad plugged in and readable (the drive's headless gamepad needs evdev)."""
    try:
        import evdev
    except ImportError:
        return Finding("gamepad", "skipped", "evdev is not installed, so gamepads cannot be listed (the drive service "
                                             "needs it for the gamepad)", INSTALL)
    wanted = context.config.drive.gamepad_device
    if wanted and not os.path.exists(wanted):
        return Finding("gamepad", "warning", "drive.gamepad_device %s does not exist" % wanted,
                       "plug the gamepad's receiver in, or set drive.gamepad_device to null (the first gamepad found)")
    try:
        found, denied = gamepads(evdev)
    except OSError as e:
        return Finding("gamepad", "warning", "cannot list input devices: %s" % one_line(e),
                       "sudo usermod -aG input $USER, then log out and in again")
    if found:
        return Finding("gamepad", "ok", "gamepad%s: %s" % ("s" if len(found) > 1 else "", ", ".join(found)))
    if denied:
        return Finding("gamepad", "warning", "no readable gamepad; %d input device%s cannot be opened (permission)"
                       % (len(denied), "" if len(denied) == 1 else "s"),
                       "sudo usermod -aG input $USER, then log out and in again")
    return Finding("gamepad", "warning", "no gamepad found among the input devices",
                   "plug in its USB receiver (and switch the pad on: on an F710 the switch at the back on X); "
                   "without one, drive with `jetracer arm` and the notebooks")
