"""Driving: the road-following loop, its steering law, failsafes, gamepad teleop and recording.

Import the parts you need (``jetracer.driving.loop.DriveLoop``, ``jetracer.driving.gamepad``...);
importing this package touches no hardware.
"""
