"""Upstream-compatible entry point: ``from jetracer.nvidia_racecar import NvidiaRacecar``.

Upstream notebooks create ``NvidiaRacecar()`` with no arguments; here it builds the configured car
(profile and bus from ``jetracer.config``), so the same cells drive a LaTrax, a TT-02, a Waveshare
kit or the emulated chips. In simulator mode (camera source ``sim``) it drives the simulated car that
the camera sees (:mod:`jetracer.sim_mode`), with its outputs on the emulated chips.

The car owns the motor chips until ``car.close()`` or the kernel ends (:mod:`jetracer.hardware.claim`):
while the drive service (armed or not) or another notebook owns them, ``NvidiaRacecar()`` raises
``MotorsClaimed`` naming that process and writes nothing. Re-running ``car = NvidiaRacecar()`` in the
same kernel works: the cars of one process share the claim.
"""
from typing import Any, Optional

from .car import ConfiguredRacecar
from .config import Config, load_config


class NvidiaRacecar(ConfiguredRacecar):
    """The configured car under upstream's name; in simulator mode, the simulated world's car.

    ``MotorsClaimed`` (one line naming the owner) while another process owns the motor chips.
    """

    def __init__(self, config: Optional[Config] = None, i2c: Any = None, **traits: Any) -> None:
        from . import sim_mode
        config = config or load_config()
        simulated = sim_mode.simulated(config) and i2c is None
        if simulated:
            from .hardware import open_i2c
            i2c = open_i2c("emulated", config.i2c_bus)  # a simulated car never drives real motors
        super(NvidiaRacecar, self).__init__(config=config, i2c=i2c, **traits)
        self.simulated = simulated
        if simulated:
            sim_mode.attach_car(self, config)


__all__ = ["NvidiaRacecar"]
