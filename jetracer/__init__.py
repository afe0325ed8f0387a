"""jetracer: an autonomous RC car for the NVIDIA Jetson, with a simulator and emulated hardware."""
from .racecar import Racecar

__version__ = "0.1.0"

__all__ = ["Racecar", "__version__"]
