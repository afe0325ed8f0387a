"""The OLED status loop: system stats and drive state, refreshed once a second, robust to bus faults.

A fault on the bus (a loose OLED cable, a brown-out) is logged and the display is reopened after a
growing pause (``refresh_s`` doubled per consecutive fault, at most ``max_backoff_s``), so the service
never dies and never spins; it recovers by itself when the panel answers again.
"""
import logging
import time
from typing import Any, Dict, Optional

from .oled import DEFAULT_ADDRESS, Oled
from .render import render_status

logger = logging.getLogger(__name__)


def open_display(config: Any, height: int = 32, address: int = DEFAULT_ADDRESS) -> Oled:
    """The OLED on the configured bus. On the emulated bus the panel is made ``height`` rows tall."""
    from ..hardware.i2c import open_i2c

    provider = open_i2c(config)
    if provider.mode == "emulated":
        from ..hardware.emulated import fit_oled

        fit_oled(provider.bus, height, address)
    return Oled(provider, height=height, address=address)


def run_display(config: Any, refresh_s: float = 1.0, iterations: Optional[int] = None,
                save_png: Optional[str] = None, height: Optional[int] = None,
                max_backoff_s: float = 30.0) -> Dict[str, int]:
    """Refresh the OLED every ``refresh_s`` seconds, ``iterations`` times (None: forever).

    ``height`` defaults to ``config.display.height``. ``save_png`` writes each frame shown
    (on the emulated bus: the panel's pixels as the chip holds them). Returns counts of ``frames``
    shown and ``faults`` survived.
    """
    from ..state import read_state
    from .stats import collect_stats

    height = int(height or config.display.height)  # the config holds every default (jetracer.config_schema)
    address = config.display.i2c_address
    oled = None  # type: Optional[Oled]
    counts = {"frames": 0, "faults": 0}
    consecutive = 0
    done = 0
    collect_stats()  # prime psutil's CPU counter so the first reading is real
    while iterations is None or done < iterations:
        done += 1
        started = time.monotonic()
        try:
            if oled is None:
                oled = open_display(config, height, address)
            image = render_status(collect_stats(), read_state(), height)
            oled.show(image)
            if save_png:
                _save(oled, image, save_png)
            counts["frames"] += 1
            consecutive = 0
            pause = refresh_s
        except OSError as e:
            counts["faults"] += 1
            consecutive += 1
            oled = None
            pause = min(max_backoff_s, refresh_s * 2 ** consecutive)
            logger.warning("OLED display fault (%s); retrying in %.1f s", e, pause)
        if iterations is None or done < iterations:
            time.sleep(max(0.0, pause - (time.monotonic() - started)))
    return counts


def _save(oled: Oled, image: Any, path: str) -> None:
    bus = getattr(oled.provider, "bus", None)
    if bus is not None and hasattr(bus, "chip"):
        bus.chip(oled.address).save_png(path)
    else:
        image.save(path)
