"""The output classes by the name a profile's ``driver:`` gives them: one lookup instead of comparing names.

``OUTPUTS[section.driver]`` is the :class:`~jetracer.hardware.base.Output` class of a steering or
throttle section: :func:`jetracer.hardware.create_driver` opens it, the supervisor's
:class:`~jetracer.hardware.attach.NeutralWriter` and the safety bench's scope judge its neutral with
it, the profile check lists its channels. A new kind of output is a class with its ``kinds``, listed
here, and a variant of the profile schema's ``driver:`` (a test checks that the two name the same kinds).
"""
from typing import Dict, Type

from .base import Output
from .motorhat_dc import DCMotorOutput
from .pca9685_servo import PulseOutput

OUTPUTS = dict((kind, cls) for cls in (PulseOutput, DCMotorOutput)
               for kind in cls.kinds)  # type: Dict[str, Type[Output]]

__all__ = ["OUTPUTS", "Output", "PulseOutput", "DCMotorOutput"]
