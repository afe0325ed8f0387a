"""The configuration, the disk where data and models live, memory and swap."""
import os
from typing import Any, Dict, List, Tuple

from .base import Context, Finding

FAIL_FREE_BYTES = 512 << 20      # a checkpoint, a recording session or a pip install fails below this
WARN_FREE_BYTES = 2 << 30        # a few recording sessions (~10 kB a frame) and models
NANO_SWAP_BYTES = 4 << 30        # training on a 4 GB Nano needs this much swap (NVIDIA's own advice: 4 GB)
SMALL_MEMORY_BYTES = 8 << 30


def _gib(value: float) -> str:
    return "%.1f GiB" % (value / float(1 << 30))


def check_config(context: Context) -> Finding:
    """The configuration loads; where it is and what it says (profile, bus, camera, model)."""
    where = context.where_config()
    if context.config is None and context.config_fix:
        return Finding("config", "fail", context.config_error, context.config_fix)
    if context.config is None:
        return Finding("config", "fail", "%s does not load: %s" % (where, context.config_error),
                       "edit %s as the message says (an empty file means the defaults; `jetracer calibrate` rewrites "
                       "profile_overrides)" % where)
    config = context.config
    exists = bool(config.path) and os.path.exists(config.path)
    profile = config.load_profile()
    env = sorted(set(v for v in config.origin.values() if v.startswith("environment variable")))
    parts = ["%s%s" % (where, "" if exists else " (not there: the defaults apply)"),
             "profile %s (%s)" % (profile.get("name"), str(profile.get("description", "")).split(" (")[0]),
             "I2C %s on bus %d" % (config.i2c, config.i2c_bus), "camera %s" % config.camera.source,
             "model %s" % (config.drive.model or "not set")]
    if env:
        parts.append("overridden by %s" % ", ".join(e.replace("environment variable ", "") for e in env))
    return Finding("config", "ok", ", ".join(parts))


def data_folders(context: Context) -> List[Tuple[str, str]]:
    """``(what, folder)`` where data and models are written: the model's folder, the record root, home."""
    drive = context.config.drive
    out = []
    if drive.model:
        out.append(("models", os.path.dirname(os.path.abspath(os.path.expanduser(drive.model)))))
    if drive.record_root:
        out.append(("recordings", os.path.abspath(os.path.expanduser(drive.record_root))))
    out.append(("home", os.path.expanduser("~")))
    return out


def _existing(folder: str) -> str:
    while folder and not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder or "/"


def check_disk(context: Context) -> Finding:
    """Free space on each file system that data and models go to."""
    import psutil
    seen = {}  # type: Dict[int, Any]
    for what, folder in data_folders(context):
        folder = _existing(folder)
        try:
            device = os.stat(folder).st_dev
            usage = psutil.disk_usage(folder)
        except OSError:
            continue
        if device in seen:
            seen[device][0].append(what)
        else:
            seen[device] = ([what], folder, usage)
    if not seen:
        return Finding("disk", "warning", "could not read the free space of any data folder", "run `df -h` by hand")
    parts, worst = [], "ok"
    for whats, folder, usage in seen.values():
        parts.append("%s (%s): %s free of %s" % (folder, ", ".join(whats), _gib(usage.free), _gib(usage.total)))
        if usage.free < FAIL_FREE_BYTES:
            worst = "fail"
        elif usage.free < WARN_FREE_BYTES and worst != "fail":
            worst = "warning"
    finding = "; ".join(parts)
    if worst == "ok":
        return Finding("disk", "ok", finding)
    return Finding("disk", worst, finding + (": too little for a model or a recording session" if worst == "fail" else
                                             ": enough for a few recording sessions only"),
                   "free space (old recordings, `sudo apt-get clean`, `pip cache purge`, ~/.cache) or move data to a "
                   "larger card or USB disk and point drive.record_root there")


def check_memory(context: Context) -> Finding:
    """Memory and swap: a 4 GB (or 2 GB) Nano needs swap to train and to build TensorRT engines."""
    import psutil
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    finding = "%s memory, %s available; swap %s" % (_gib(memory.total), _gib(memory.available),
                                                   _gib(swap.total) if swap.total else "none")
    small = memory.total < SMALL_MEMORY_BYTES
    if context.on_jetson and small and swap.total < NANO_SWAP_BYTES:
        return Finding("memory", "warning", finding + ": training or building a TensorRT engine on this Jetson runs "
                                                      "out of memory without more swap",
                       "add a 4 GB swap file: sudo fallocate -l 4G /var/swapfile && sudo chmod 600 /var/swapfile && "
                       "sudo mkswap /var/swapfile && sudo swapon /var/swapfile, and a line `/var/swapfile swap swap "
                       "defaults 0 0` in /etc/fstab")
    if memory.available < (256 << 20):
        return Finding("memory", "warning", finding + ": almost none available",
                       "close notebooks and other programs (a Jupyter kernel keeps its camera and model)")
    return Finding("memory", "ok", finding + ("" if context.on_jetson else " (swap matters on a Nano, not here)"))
