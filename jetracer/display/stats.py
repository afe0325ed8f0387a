"""System statistics for the status display: IP addresses, CPU, memory, disk, GPU load, temperatures.

Only what the system really reports is returned; a field that cannot be read (no GPU load file off a
Jetson, no thermal zones in a container) is left out of the dict, never filled with a made-up value.
"""
import glob
import os
import socket
from typing import Any, Dict, List, Optional, Tuple

GPU_LOAD_FILES = ("/sys/devices/gpu.0/load", "/sys/devices/platform/gpu.0/load")
THERMAL_GLOB = "/sys/class/thermal/thermal_zone*"


def ip_addresses() -> List[Tuple[str, str]]:
    """``[(interface, IPv4 address)]`` of the interfaces that have one, loopback excluded."""
    import psutil

    out = []
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                out.append((name, address.address))
    return out


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, IOError):
        return None


def gpu_load_percent(paths: Tuple[str, ...] = GPU_LOAD_FILES) -> Optional[float]:
    """The Jetson GPU load in percent (the sysfs file holds per mille), or None where there is none."""
    for path in paths:
        text = _read(path)
        if text is not None:
            try:
                return int(text) / 10.0
            except ValueError:
                continue
    return None


def temperatures_c(pattern: str = THERMAL_GLOB) -> Dict[str, float]:
    """``{zone type: degrees C}`` from the thermal zones that report (millidegrees in sysfs)."""
    out = {}
    for zone in sorted(glob.glob(pattern)):
        kind, temp = _read(os.path.join(zone, "type")), _read(os.path.join(zone, "temp"))
        if kind is None or temp is None:
            continue
        try:
            out[kind] = int(temp) / 1000.0
        except ValueError:
            continue
    return out


def collect_stats(disk_path: str = "/") -> Dict[str, Any]:
    """One reading: ``ips``, ``cpu_percent`` (since the previous call), ``mem_*``, ``disk_*``,
    ``gpu_percent`` and ``temps_c`` where available (bytes, percent, degrees C)."""
    import psutil

    stats = {"ips": ip_addresses(), "cpu_percent": psutil.cpu_percent(interval=None)}  # type: Dict[str, Any]
    memory = psutil.virtual_memory()
    stats.update(mem_used_bytes=memory.total - memory.available, mem_total_bytes=memory.total, mem_percent=memory.percent)
    try:
        disk = psutil.disk_usage(disk_path)
        stats.update(disk_used_bytes=disk.used, disk_total_bytes=disk.total, disk_percent=disk.percent)
    except OSError:
        pass
    gpu = gpu_load_percent()
    if gpu is not None:
        stats["gpu_percent"] = gpu
    temps = temperatures_c()
    if temps:
        stats["temps_c"] = temps
    return stats
