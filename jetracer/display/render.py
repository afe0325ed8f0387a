"""Text lines for the OLED and their 1-bit image: 4 lines on a 128x32 panel, 8 on a 128x64.

The font is PIL's built-in 6x11 bitmap font (the same glyphs on every Pillow version); lines are
8 pixels apart, so 21 characters fit on a line. Inputs come from :func:`jetracer.display.stats.collect_stats`
and :func:`jetracer.state.read_state` (``None`` when no drive service is running).
"""
from typing import Any, List, Mapping, Optional, Sequence, Tuple

WIDTH = 128
LINE_HEIGHT_PX = 8
CHARS_PER_LINE = 21
_INTERFACE_ORDER = ("wlan", "eth", "en", "wl", "usb", "l4tbr")


def _font() -> Any:
    from PIL import ImageFont

    return getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)()


def _gb(n_bytes: float) -> str:
    return "%.1f" % (n_bytes / 1e9)


def _ranked_ips(ips: Sequence[Any]) -> List[Any]:
    def rank(item: Any) -> int:
        for i, prefix in enumerate(_INTERFACE_ORDER):
            if item[0].startswith(prefix):
                return i
        return len(_INTERFACE_ORDER)
    return sorted(ips, key=rank)


def _ip_lines(stats: Mapping[str, Any], count: int) -> List[str]:
    ips = _ranked_ips(stats.get("ips") or [])
    if not ips:
        return ["no network"]
    return ["%s %s" % (name[:5], ip) for name, ip in ips[:count]]


def _load_line(stats: Mapping[str, Any]) -> str:
    parts = []
    if "cpu_percent" in stats:
        parts.append("CPU %d%%" % round(stats["cpu_percent"]))
    if "gpu_percent" in stats:
        parts.append("GPU %d%%" % round(stats["gpu_percent"]))
    if stats.get("temps_c"):
        parts.append("%dC" % round(max(stats["temps_c"].values())))
    return " ".join(parts)


def _memory_line(stats: Mapping[str, Any], with_disk: bool) -> str:
    parts = []
    if "mem_total_bytes" in stats:
        parts.append("Mem %s/%sG" % (_gb(stats["mem_used_bytes"]), _gb(stats["mem_total_bytes"])))
    if with_disk and "disk_percent" in stats:
        parts.append("Dsk %d%%" % round(stats["disk_percent"]))
    return " ".join(parts)


def _seconds(value: Any) -> str:
    seconds = float(value or 0.0)
    return "%.1fs" % seconds if seconds < 100 else "%ds" % seconds


def _camera_lines(state: Mapping[str, Any], reason: str) -> List[str]:
    """Two short lines for a camera that reopens itself (``state["camera"]``, from the drive), or none."""
    camera = state.get("camera") or {}
    if camera.get("status") == "reopening":
        attempt = "reopening, try %d" % int(camera.get("attempt", 1))
        return ["cam: no frame %s" % _seconds(camera.get("no_frame_s")),
                str(camera.get("short_fix") or attempt) if camera.get("advised") else attempt]
    if reason.startswith("camera: recovered") and camera.get("last_recovery"):
        return ["cam back after %s" % _seconds(camera.get("last_recovery_s")), "arm again to drive"]
    return []


def _obstacle_text(obstacle: Mapping[str, Any], stop_reason: str) -> Tuple[str, str]:
    """``(head suffix, stop line)`` of the obstacle stop's state: its blocked probability after the fps, and
    one line for its own stop (" p0.12", "OBSTACLE p=0.93 STOP"); empty where there is nothing to say."""
    p = obstacle.get("blocked_p")
    suffix = " p%.2f" % float(p) if isinstance(p, (int, float)) else ""
    if not stop_reason.startswith("obstacle ahead"):
        return suffix, ""
    if obstacle.get("state") == "waiting for arm":
        return suffix, "OBSTACLE clear: ARM"
    return suffix, "OBSTACLE p=%.2f STOP" % float(p if isinstance(p, (int, float)) else 1.0)


def _drive_lines(state: Optional[Mapping[str, Any]]) -> List[str]:
    if not state:
        return ["drive: not running"]
    head = "%s %.0ffps" % (str(state.get("mode", "?")).upper(), float(state.get("fps", 0.0)))
    if state.get("estopped"):
        head += " ESTOP"
    reason = state.get("stop_reason") or ""
    obstacle = state.get("obstacle")
    if isinstance(obstacle, Mapping):
        suffix, line = _obstacle_text(obstacle, reason)
        if len(head + suffix) <= CHARS_PER_LINE:
            head += suffix
        if line:
            return [head, line]
    if not reason:
        return [head]
    camera = _camera_lines(state, reason)
    if camera:
        return [head] + camera
    text = "stop: %s" % reason  # two lines of it: "stop: camera: <its message>" must say which camera and why
    return [head, text[:CHARS_PER_LINE]] + ([text[CHARS_PER_LINE:2 * CHARS_PER_LINE]] if len(text) > CHARS_PER_LINE else [])


def status_lines(stats: Mapping[str, Any], state: Optional[Mapping[str, Any]], lines: int = 4) -> List[str]:
    """``lines`` (4 or 8) lines of at most 21 characters; empty lines where there is nothing to say."""
    if lines <= 4:
        drive = _drive_lines(state)
        out = _ip_lines(stats, 1) + [_load_line(stats), _memory_line(stats, True), drive[0]]
        if len(drive) > 1 and len(out) >= 4:  # a stop reason matters more than load and memory
            out[3 - len(drive) + 1:3] = drive[1:]
    else:
        out = _ip_lines(stats, 2) + [_load_line(stats), _memory_line(stats, False)]
        if "disk_total_bytes" in stats:
            out.append("Dsk %s/%sG %d%%" % (_gb(stats["disk_used_bytes"]), _gb(stats["disk_total_bytes"]),
                                             round(stats["disk_percent"])))
        out += _drive_lines(state)
    out = [line[:CHARS_PER_LINE] for line in out[:lines]]
    return out + [""] * (lines - len(out))


def render_lines(lines: Sequence[str], height: int = 32) -> Any:
    """A PIL mode-"1" image ``128 x height``; line ``i`` occupies pixel rows ``8*i`` to ``8*i + 7``."""
    from PIL import Image, ImageDraw

    if height not in (32, 64):
        raise ValueError("OLED height must be 32 or 64 pixels, got %r" % (height,))
    image = Image.new("1", (WIDTH, height))
    draw = ImageDraw.Draw(image)
    font = _font()
    for i, line in enumerate(lines[:height // LINE_HEIGHT_PX]):
        draw.text((0, i * LINE_HEIGHT_PX - 2), line, font=font, fill=255)  # the font has 2 blank rows on top
    return image


def render_status(stats: Mapping[str, Any], state: Optional[Mapping[str, Any]], height: int = 32) -> Any:
    """The status screen for a ``128 x height`` panel."""
    return render_lines(status_lines(stats, state, height // LINE_HEIGHT_PX), height)


__all__ = ["status_lines", "render_lines", "render_status"]
