"""Gamepad teleop: a pad's axes and buttons, through a mapping (data), to steering/throttle commands.

The same :func:`connect_controller` maps the notebook's ``ipywidgets.Controller`` and the headless
:class:`EvdevGamepad` (the service): both expose ``axes[i].value`` in [-1, 1], ``buttons[i].pressed``
and ``connected``. Axis values are linked to a :class:`Teleop` with ``traitlets.dlink``; the teleop
shapes them (deadzone, expo, throttle limit, reverse guard) and stamps each input, so the drive loop
can stop the car when commands stop coming.
"""
import logging
import select
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import traitlets

from ..config import ConfigError
from ..config_schema import DRIVE, GAMEPAD_MAPPINGS, GamepadMapping, gamepad_problems, resolve_gamepad

logger = logging.getLogger(__name__)

MappingSpec = Union[None, str, Mapping[str, Any], GamepadMapping]  # what gamepad_mapping accepts

# The mappings are configuration data (``drive.gamepad``): see :mod:`jetracer.config_schema`.
MAPPINGS = GAMEPAD_MAPPINGS

_AXIS_KEYS = ("steering_axis", "throttle_axis")
_BUTTON_KEYS = ("estop_button", "release_button", "mode_button", "record_button", "reverse_button")


class GamepadMappingError(ConfigError):
    """The mapping names an axis or button the pad does not have, or the pad has not registered yet."""


def gamepad_mapping(spec: MappingSpec = None, **overrides: Any) -> GamepadMapping:
    """A full mapping from code (a notebook, a test): a name from :data:`MAPPINGS`, or keys over their ``base``
    (default the schema's ``drive.gamepad``), with ``overrides`` set over it.

    Checked by the configuration's own rule (:func:`jetracer.config_schema.gamepad_problems`); a
    :class:`GamepadMapping` (``config.drive.gamepad``, checked when the config loaded) passes as it is.
    A button key may be ``None`` (no such button). Unknown keys raise :class:`GamepadMappingError`.
    """
    if isinstance(spec, GamepadMapping) and not overrides:
        return spec
    if spec is None:
        spec = DRIVE["gamepad"].default
    if isinstance(spec, GamepadMapping):
        spec = spec._asdict()
    if overrides:
        spec = dict({"base": spec} if isinstance(spec, str) else spec, **overrides)
    problems = gamepad_problems("drive.gamepad", spec)
    if problems:
        raise GamepadMappingError("; ".join(problems))
    return resolve_gamepad(spec)


def shape_axis(value: float, deadzone: float = 0.05, expo: float = 0.3) -> float:
    """A stick value in [-1, 1] with a deadzone (rescaled so the output stays continuous) and expo.

    ``expo`` in [0, 1] blends linear and cubic response: fine control near centre, full range at the end.
    """
    value = max(-1.0, min(1.0, float(value)))
    magnitude = abs(value)
    if magnitude <= deadzone:
        return 0.0
    scaled = (magnitude - deadzone) / (1.0 - deadzone)
    shaped = (1.0 - expo) * scaled + expo * scaled ** 3
    return shaped if value > 0 else -shaped


class Teleop(traitlets.HasTraits):
    """The gamepad's commands: ``steering`` (+ right) and ``throttle`` (+ forward) in [-1, 1].

    Set the raw inputs ``steering_input``/``throttle_input`` (stick values, e.g. by ``dlink``) and
    ``reverse_held``. Throttle is limited to ``throttle_limit``; a reverse (negative) throttle is only
    passed while ``reverse_held`` is true and after the throttle has been at neutral, so a stick
    pulled back while moving forward brakes to neutral instead of reversing. ``stamp`` is the
    ``clock`` time of the last input or :meth:`touch` (the drive loop's freshness check).
    """

    steering_input = traitlets.Float(default_value=0.0)
    throttle_input = traitlets.Float(default_value=0.0)
    reverse_held = traitlets.Bool(default_value=False)
    steering = traitlets.Float(default_value=0.0, read_only=True)
    throttle = traitlets.Float(default_value=0.0, read_only=True)

    def __init__(self, mapping: MappingSpec = None, clock: Callable[[], float] = time.monotonic) -> None:
        super(Teleop, self).__init__()
        self.mapping = gamepad_mapping(mapping)  # type: GamepadMapping
        self.clock = clock
        self.stamp = float("-inf")
        self._was_neutral = True

    def touch(self, *args: Any) -> None:
        """Count as a fresh command without changing it (the pad is connected and unchanged)."""
        self.stamp = self.clock()

    @traitlets.observe("steering_input", "throttle_input", "reverse_held")
    def _on_input(self, change: Any) -> None:
        m = self.mapping
        steer = shape_axis(self.steering_input, m.deadzone, m.expo)
        self.set_trait("steering", -steer if m.steering_invert else steer)
        throttle = shape_axis(self.throttle_input, m.deadzone, m.expo)
        throttle = (-throttle if m.throttle_invert else throttle) * m.throttle_limit
        if throttle < 0 and not (self.reverse_held and (self._was_neutral or self.throttle < 0)):
            throttle = 0.0
        self._was_neutral = throttle == 0.0
        self.set_trait("throttle", throttle)
        self.touch()


def _check_index(pad: Any, kind: str, key: str, index: Optional[int]) -> None:
    items = pad.axes if kind == "axis" else pad.buttons
    name = getattr(pad, "name", "") or "the gamepad"
    if index is None:
        return
    if len(items) == 0:
        raise GamepadMappingError("%s has not registered yet (no %s): press a button on the pad (with the notebook's "
                                  "browser tab focused) and run this again" % (name, "axes" if kind == "axis" else "buttons"))
    if not 0 <= index < len(items):
        raise GamepadMappingError("%s has %d %s (0..%d) but the mapping key %r asks for %s %d; choose another mapping "
                                  "(drive.gamepad: %s) or set %s" % (name, len(items), "axes" if kind == "axis" else "buttons",
                                                                      len(items) - 1, key, kind, index,
                                                                      " / ".join(sorted(MAPPINGS)), key))


def connect_controller(pad: Any, teleop: Teleop, car: Any = None, loop: Any = None, heartbeat: Any = None) -> List[Any]:
    """Link ``pad`` (ipywidgets ``Controller`` or :class:`EvdevGamepad`) to ``teleop`` and the buttons' actions.

    Sticks -> ``teleop`` by ``traitlets.dlink``; e-stop button -> ``car.estop()``; release button (START) ->
    ``loop.arm()`` (or ``car.release_estop()`` without a loop); mode button -> ``loop.next_mode()``; record button -> ``loop.request_record()``.
    The teleop is kept fresh by the pad's ``timestamp`` (evdev: the reader thread ticks it while the
    device is open) and, for a browser pad, by ``heartbeat`` echoes while ``pad.connected``.
    Raises :class:`GamepadMappingError` naming the pad's axis/button count and the mapping key when an
    index does not exist. Returns the link objects (``unlink()`` them to disconnect).
    """
    m = teleop.mapping
    for key in _AXIS_KEYS:
        _check_index(pad, "axis", key, getattr(m, key))
    for key in _BUTTON_KEYS:
        _check_index(pad, "button", key, getattr(m, key))
    links = [
        traitlets.dlink((pad.axes[m.steering_axis], "value"), (teleop, "steering_input")),
        traitlets.dlink((pad.axes[m.throttle_axis], "value"), (teleop, "throttle_input")),
    ]
    if m.reverse_button is not None:
        links.append(traitlets.dlink((pad.buttons[m.reverse_button], "pressed"), (teleop, "reverse_held")))

    def on_press(key: str, action: Optional[Callable[[], Any]]) -> None:
        index = getattr(m, key)
        if index is None or action is None:
            return

        def handler(change: Any) -> None:
            if change["new"]:
                action()

        pad.buttons[index].observe(handler, names="pressed")

    if car is not None:
        on_press("estop_button", lambda: car.estop("gamepad e-stop button"))
        on_press("release_button", loop.arm if loop is not None else car.release_estop)
    if loop is not None:
        on_press("mode_button", loop.next_mode)
        on_press("record_button", loop.request_record)

    def keepalive(change: Any) -> None:
        if getattr(pad, "connected", True):
            teleop.touch()

    pad.observe(keepalive, names="timestamp")
    if heartbeat is not None:
        heartbeat.on_echo(keepalive)
    return links


class BrowserHeartbeat(object):
    """JetBot-style heartbeat: a value the browser echoes back; if echoes stop, the browser is gone.

    :meth:`send` writes the current time into ``pulse_out``; a ``jsdlink`` in the browser copies it
    to ``pulse_in``; :meth:`age_s` is how old the last echoed pulse is. Python-side only the widgets
    and the link exist; it works in ipywidgets 7 and 8.

    The loop sends one pulse per iteration, so a healthy echo is one loop period old (33 ms at 30 fps)
    plus the round trip kernel -> Jupyter server -> browser -> back, over the car's and the laptop's
    Wi-Fi, in the same websocket as the camera views. :meth:`echo_stats_ms` keeps the age seen at each
    pulse (the last ``keep``), so the drive panel shows what a link needs next to
    ``drive.heartbeat_timeout_s``.
    """

    def __init__(self, keep: int = 1000) -> None:
        import collections

        import ipywidgets

        self.pulse_out = ipywidgets.FloatText(value=0.0)
        self.pulse_in = ipywidgets.FloatText(value=float("-inf"))
        self.link = ipywidgets.jsdlink((self.pulse_out, "value"), (self.pulse_in, "value"))
        self.ages_s = collections.deque(maxlen=keep)  # type: Any

    def send(self, now: float) -> None:
        age = now - self.pulse_in.value
        if age != float("inf"):
            self.ages_s.append(age)  # before this pulse: the age the loop compares with its timeout
        self.pulse_out.value = now

    def age_s(self, now: float) -> float:
        return now - self.pulse_in.value

    def echo_stats_ms(self) -> Dict[str, float]:
        """Median, 99th percentile and worst echo age (ms) over the kept pulses; empty before the first echo."""
        ages = sorted(self.ages_s)
        if not ages:
            return {}
        p99 = ages[min(len(ages) - 1, int(0.99 * len(ages)))]
        return {"median": 1000.0 * ages[len(ages) // 2], "p99": 1000.0 * p99, "max": 1000.0 * ages[-1],
                "pulses": float(len(ages))}

    def on_echo(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(change)`` whenever an echo arrives."""
        self.pulse_in.observe(callback, names="value")


class _Axis(traitlets.HasTraits):
    value = traitlets.Float(default_value=0.0)


class _Button(traitlets.HasTraits):
    value = traitlets.Float(default_value=0.0)
    pressed = traitlets.Bool(default_value=False)


# evdev event codes in the order of the W3C standard layout (indices in MAPPINGS mean the same thing).
EVDEV_AXES = ("ABS_X", "ABS_Y", "ABS_RX", "ABS_RY", "ABS_Z", "ABS_RZ", "ABS_HAT0X", "ABS_HAT0Y")
EVDEV_BUTTONS = ("BTN_SOUTH", "BTN_EAST", "BTN_WEST", "BTN_NORTH", "BTN_TL", "BTN_TR", "BTN_TL2", "BTN_TR2",
                 "BTN_SELECT", "BTN_START", "BTN_THUMBL", "BTN_THUMBR", "BTN_MODE")


class EvdevGamepad(traitlets.HasTraits):
    """A Linux gamepad read with evdev on a thread, shaped like ``ipywidgets.Controller``.

    ``axes[i].value`` in [-1, 1] and ``buttons[i].pressed`` follow :data:`EVDEV_AXES`/:data:`EVDEV_BUTTONS`;
    ``timestamp`` ticks every ``tick_s`` while the device is open, and ``connected`` turns False when it
    disappears (the teleop then goes stale and the drive loop stops the car).
    """

    connected = traitlets.Bool(default_value=False)
    timestamp = traitlets.Float(default_value=0.0)

    def __init__(self, device_path: Optional[str] = None, tick_s: float = 0.02) -> None:
        super(EvdevGamepad, self).__init__()
        try:
            import evdev
        except ImportError:
            raise ImportError("the headless gamepad needs evdev: pip install evdev (Linux only)")
        self._evdev = evdev
        self.device = self._open(device_path)
        self.name = self.device.name
        self.tick_s = tick_s
        self.axes = [_Axis() for _ in EVDEV_AXES]
        self.buttons = [_Button() for _ in EVDEV_BUTTONS]
        ecodes = evdev.ecodes
        self._axis_index = dict((getattr(ecodes, n), i) for i, n in enumerate(EVDEV_AXES))
        self._button_index = dict((getattr(ecodes, n), i) for i, n in enumerate(EVDEV_BUTTONS))
        self._ranges = {}  # type: Dict[int, Any]
        for code, info in self.device.capabilities(absinfo=True).get(ecodes.EV_ABS, []):
            self._ranges[code] = (info.min, info.max)
        self._closed = False
        self.connected = True
        self._thread = threading.Thread(target=self._read, name="evdev-gamepad", daemon=True)
        self._thread.start()

    def _open(self, path: Optional[str]) -> Any:
        evdev = self._evdev
        if path:
            return evdev.InputDevice(path)
        for candidate in evdev.list_devices():
            device = evdev.InputDevice(candidate)
            keys = device.capabilities().get(evdev.ecodes.EV_KEY, [])
            if evdev.ecodes.BTN_SOUTH in keys or evdev.ecodes.BTN_GAMEPAD in keys:
                return device
        raise RuntimeError("no gamepad found in /dev/input (is the USB receiver plugged in, and is the user in the "
                           "'input' group?); or set drive.gamepad_device to its /dev/input/eventN path")

    def _normalise(self, code: int, value: int) -> float:
        lo, hi = self._ranges.get(code, (-32768, 32767))
        if hi <= lo:
            return 0.0
        return max(-1.0, min(1.0, 2.0 * (value - lo) / float(hi - lo) - 1.0))

    def _read(self) -> None:
        ecodes = self._evdev.ecodes
        try:
            while not self._closed:
                ready, _, _ = select.select([self.device.fd], [], [], self.tick_s)
                if ready:
                    for event in self.device.read():
                        if event.type == ecodes.EV_ABS and event.code in self._axis_index:
                            self.axes[self._axis_index[event.code]].value = self._normalise(event.code, event.value)
                        elif event.type == ecodes.EV_KEY and event.code in self._button_index:
                            button = self.buttons[self._button_index[event.code]]
                            button.value = float(bool(event.value))
                            button.pressed = bool(event.value)
                self.timestamp = time.monotonic()
        except OSError as e:
            logger.error("gamepad %s lost: %s", self.name, e)
        finally:
            self.connected = False

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=1.0)
        self.device.close()
