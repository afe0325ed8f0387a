"""Driving: the road-following loop, failsafes, gamepad teleop and recording.

The steering law it applies is :mod:`jetracer.steering_law` (a pure piece on the ground floor).

Import the parts you need (``jetracer.driving.loop.DriveLoop``, ``jetracer.driving.gamepad``...);
importing this package touches no hardware.
"""
