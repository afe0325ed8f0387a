"""The board: which Jetson, which L4T/JetPack, its power mode and whether ``jetson_clocks`` is set.

Everything is read from files that exist only on a Jetson (the device tree, /etc/nv_tegra_release,
cpufreq and devfreq in sysfs) or from commands run with a timeout (``dpkg-query``, ``nvpmodel -q``);
off the Jetson these checks say so.
"""
import glob
import os
import platform
import re
from typing import List, Optional, Tuple

from .base import Context, Finding
from .probe import read_text, run_command
from .versions import jetpack_for, l4t_release

NOT_A_JETSON = "not a Jetson (no /proc/device-tree/model naming one, no /etc/nv_tegra_release)"
ON_THE_CAR = "nothing to do here; run jetracer doctor on the car's Jetson to check it"


def _os_name() -> str:
    text = read_text("/etc/os-release", 8192) or ""
    match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', text, re.M)
    return match.group(1) if match else platform.system()


def check_platform(context: Context) -> Finding:
    """The board and its L4T/JetPack release."""
    if not context.on_jetson:
        return Finding("platform", "ok", "%s: %s %s, %s; the car's checks below use the emulated bus and the "
                                         "simulator camera where the car's own devices are missing"
                       % (NOT_A_JETSON, platform.machine(), platform.release(), _os_name()))
    l4t = l4t_release(context.tegra_release)
    core = run_command(["dpkg-query", "-W", "-f=${Version}", "nvidia-l4t-core"], timeout_s=5.0)
    package = core.out.strip() if core.ok and core.out.strip() else ""
    if not l4t and package:
        l4t = ".".join(package.split("-")[0].split(".")[:3])
    row = jetpack_for(l4t) if l4t else None
    parts = [context.jetson_model or "an NVIDIA Jetson"]
    parts.append("L4T %s" % l4t if l4t else "L4T release unknown")
    if row:
        parts.append("JetPack %s" % row["jetpack"])
    if package:
        parts.append("nvidia-l4t-core %s" % package)
    finding = ", ".join(parts)
    if not l4t:
        return Finding("platform", "warning", finding + ": neither /etc/nv_tegra_release nor the nvidia-l4t-core package "
                                                        "says which L4T this is (%s)" % (core.problem or core.text()),
                       "flash a JetPack image from NVIDIA (the original Nano: JetPack 4.6.x); a custom image without "
                       "L4T's packages cannot use NVIDIA's PyTorch wheels")
    if row is None:
        return Finding("platform", "warning", finding + ": a JetPack release this doctor has no version table for",
                       "check the software line below against NVIDIA's table for your JetPack")
    return Finding("platform", "ok", finding)


def check_power_mode(context: Context) -> Finding:
    """``nvpmodel -q``: MAXN (mode 0) lets the CPU and GPU run at full speed."""
    if not context.on_jetson:
        return Finding("power_mode", "skipped", "not a Jetson: no nvpmodel power modes", ON_THE_CAR)
    result = run_command(["nvpmodel", "-q"], timeout_s=5.0)
    if not result.ok:
        return Finding("power_mode", "warning", "could not read the power mode: %s" % (result.problem or result.text()),
                       "run `sudo nvpmodel -q` by hand; nvpmodel comes with JetPack (package nvidia-l4t-tools)")
    match = re.search(r"Power Mode:\s*(\S+)", result.out)
    name = match.group(1) if match else "?"
    numbers = re.findall(r"^\s*(\d+)\s*$", result.out, re.M)
    mode = int(numbers[0]) if numbers else None
    if "MAXN" in name.upper() or mode == 0:
        return Finding("power_mode", "ok", "power mode %s (mode %s): full speed" % (name, mode))
    return Finding("power_mode", "warning", "power mode %s (mode %s): the CPU and GPU are capped, so the model runs "
                                            "slower than it can" % (name, mode),
                   "sudo nvpmodel -m 0 (MAXN; on a Nano it needs the 5 V 4 A barrel-jack supply, not micro-USB)")


def _cpu_clocks() -> List[Tuple[int, int]]:
    """(scaling_min_freq, cpuinfo_max_freq) in kHz of each online CPU with cpufreq."""
    out = []
    for folder in sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq")):
        low, high = read_text(os.path.join(folder, "scaling_min_freq")), read_text(os.path.join(folder, "cpuinfo_max_freq"))
        if low and high and low.strip().isdigit() and high.strip().isdigit():
            out.append((int(low), int(high)))
    return out


def _gpu_clocks() -> Optional[Tuple[int, int]]:
    """(min_freq, max_freq) in Hz of the GPU's devfreq (a Nano's 57000000.gpu, an Orin's 17000000.ga10b), or None."""
    for folder in sorted(glob.glob("/sys/class/devfreq/*")):
        name = os.path.basename(folder)
        if "gpu" not in name and "gv11b" not in name and "ga10b" not in name:
            continue
        low, high = read_text(os.path.join(folder, "min_freq")), read_text(os.path.join(folder, "max_freq"))
        if low and high and low.strip().isdigit() and high.strip().isdigit():
            return int(low), int(high)
    return None


def check_clocks(context: Context) -> Finding:
    """``jetson_clocks`` sets every CPU's and the GPU's minimum clock to its maximum: seen in sysfs."""
    if not context.on_jetson:
        return Finding("jetson_clocks", "skipped", "not a Jetson: no jetson_clocks", ON_THE_CAR)
    cpus, gpu = _cpu_clocks(), _gpu_clocks()
    if not cpus:
        return Finding("jetson_clocks", "warning", "no cpufreq in /sys/devices/system/cpu: cannot tell whether the "
                                                   "clocks are locked", "run `sudo jetson_clocks --show` by hand")
    unlocked = [(low, high) for low, high in cpus if low < high]
    gpu_unlocked = gpu is not None and gpu[0] < gpu[1]
    shown = "CPU min %d of max %d MHz" % (cpus[0][0] // 1000, cpus[0][1] // 1000)
    if gpu is not None:
        shown += ", GPU min %d of max %d MHz" % (gpu[0] // 1000000, gpu[1] // 1000000)
    if unlocked or gpu_unlocked:
        return Finding("jetson_clocks", "warning", "clocks are not locked at their maximum (%s): inference runs slower "
                                                   "and its time varies until they are" % shown,
                       "sudo jetson_clocks (it lasts until the next reboot)")
    return Finding("jetson_clocks", "ok", "clocks locked at their maximum (%s)" % shown)
