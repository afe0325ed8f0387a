"""Helpers and interface doubles for the driving tests (imported by the tests and conftest).

The camera and pilot are interface doubles (jetcam-like camera, documented pilot interface), not
mocks of a library: the camera draws a bright stripe whose position moves, and the pilot finds it,
so the steering the loop commands is a real function of the pixels.
"""
import math

import numpy as np


def pulse(car, section):
    """The emulated chip's pulse (us) on the profile's steering or throttle channel."""
    from jetracer.hardware.emulated import shared_bus

    s = car.profile[section]
    return shared_bus().chip(s.i2c_address).pulse_us(s.channel)


def at_neutral(car):
    """Throttle channel at the profile's neutral, within one 12-bit count at 50 Hz (about 5 us)."""
    return abs(pulse(car, "throttle") - car.profile.throttle.center_us) < 5.0


class StripeCamera(object):
    """A 48x32 BGR camera with a white vertical stripe at ``x = 0.5 * sin(frame / 10)``.

    ``read()`` returns a new frame (``frame_id`` + 1) unless ``frozen``: then the last frame again.
    """

    width, height = 48, 32

    def __init__(self):
        self.frame_id = 0
        self.frozen = False
        self.value = None
        self.timestamp = 0.0

    def target_x(self, frame_id):
        return 0.5 * math.sin(frame_id / 10.0)

    def read(self):
        if self.frozen and self.value is not None:
            return self.value
        self.frame_id += 1
        frame = np.full((self.height, self.width, 3), 40, np.uint8)
        u = int(round((self.target_x(self.frame_id) + 1) * self.width / 2))
        frame[:, max(0, u - 1):u + 1] = 255
        self.value = frame
        return frame

    def release(self):
        pass


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
