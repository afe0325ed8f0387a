"""Helpers and interface doubles for the driving tests (imported by the tests and conftest).

The camera is a real :class:`jetracer.camera.base.Camera` (traits, advancing ``timestamp`` and
``frame_id``) drawing a bright stripe whose position moves; the pilot (the documented pilot interface) finds it,
so the steering the loop commands is a real function of the pixels.
"""
import math

import numpy as np

from jetracer.camera.base import Camera
from jetracer.config_schema import default_settings
from jetracer.steering_law import SteeringLaw


def settings(**changes):
    """The drive settings a loop gets: the schema's defaults with ``changes`` (e.g. ``mode="manual"``)."""
    return default_settings("drive")._replace(**changes)


def law(gain=0.75, **changes):
    """A steering law of the default drive settings with ``gain`` (upstream's 0.75 unless given) and
    ``changes`` of its keys (``throttle=0.3``, ``steering_bias=0.2``...)."""
    return SteeringLaw.from_settings(settings(**changes), gain=gain)


def pulse(car, section):
    """The emulated chip's pulse (us) on the profile's steering or throttle channel."""
    from jetracer.hardware.emulated import shared_bus

    s = car.profile[section]
    return shared_bus().chip(s.i2c_address).pulse_us(s.channel)


def at_neutral(car):
    """Throttle channel at the profile's neutral, within one 12-bit count at 50 Hz (about 5 us)."""
    return abs(pulse(car, "throttle") - car.profile.throttle.center_us) < 5.0


class StripeCamera(Camera):
    """A 48x32 BGR jetracer camera (traits, stamps) with a white vertical stripe at ``x = 0.5 * sin(frame / 10)``.

    ``read()`` captures a new frame (``frame_id`` + 1, a new ``timestamp``) unless ``frozen``: then it
    returns the last frame again with its old stamps, as a camera that stopped delivering.
    """

    def __init__(self):
        super(StripeCamera, self).__init__(width=48, height=32)
        self.frozen = False

    def target_x(self, frame_id):
        return 0.5 * math.sin(frame_id / 10.0)

    def read(self):
        if self.frozen and self.frame_id:
            return self.value
        return super(StripeCamera, self).read()

    def _read(self):
        frame = np.full((self.height, self.width, 3), 40, np.uint8)
        u = int(round((self.target_x(self.frame_id + 1) + 1) * self.width / 2))
        frame[:, max(0, u - 1):u + 1] = 255
        return frame


class StripePilot(object):
    """The documented pilot interface: ``pilot(frame_bgr) -> (x, y)`` and ``last_timing_ms``."""

    def __init__(self):
        self.calls = 0
        self.last_timing_ms = {"preprocess": 0.0, "inference": 0.0}
        self.fail = None  # None, "nan" or "raise"

    def __call__(self, frame):
        self.calls += 1
        if self.fail == "nan":
            return float("nan"), 0.0
        if self.fail == "raise":
            raise RuntimeError("CUDA error: an illegal memory access")
        column = frame[:, :, 1].mean(axis=0)
        u = float(np.argmax(column)) + 0.5
        return (u - frame.shape[1] / 2.0) / (frame.shape[1] / 2.0), 0.0
