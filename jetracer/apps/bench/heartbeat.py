"""Benchmark: how old the browser heartbeat's echo is when the drive loop checks it, through a real Jupyter kernel.

:class:`jetracer.driving.gamepad.BrowserHeartbeat` runs in an ipykernel (started with ``jupyter_client``),
pulsed by a thread at the loop's rate as a notebook's drive loop does; this process plays the browser:
it reads each ``pulse_out`` update the kernel publishes and sends it back as a ``pulse_in`` update, as
the browser's ``jsdlink`` does. The kernel records the echo age at each pulse
(:meth:`~jetracer.driving.gamepad.BrowserHeartbeat.echo_stats_ms`, what the loop compares with
``drive.heartbeat_timeout_s``). Two loads: ``idle`` (the heartbeat alone) and ``panel`` (also a 20 kB
image update at 15 Hz and 8 ms of GIL-holding Python work, as the drive panel's camera view adds).

The "browser" is on localhost: the figures are the loop's and the kernel's part of the echo age. A
real notebook adds the Jupyter server, the websocket and two Wi-Fi hops (car and laptop) in both
directions; the drive panel shows that total on the car (``browser echo age``). Needs the notebook
extras (``ipykernel``, ``jupyter_client``).

    jetracer bench heartbeat [--seconds 20] [--fps 30] [--json]
"""
import json
import queue
import threading
import time
from typing import Any, Dict, List

KERNEL_CODE = r'''
import json, threading, time
import ipywidgets
from jetracer.driving.gamepad import BrowserHeartbeat

heartbeat = BrowserHeartbeat(keep=100000)
image = ipywidgets.Image(format="jpeg")
print(json.dumps({"out": heartbeat.pulse_out.model_id, "in": heartbeat.pulse_in.model_id}))

def _pulse(pulses, period_s, panel):
    next_s = time.monotonic()
    for i in range(pulses):
        heartbeat.send(time.monotonic())
        if panel and i %% 2 == 0:
            image.value = bytes(bytearray(k %% 256 for k in range(20000)))
            busy_until = time.perf_counter() + 0.008
            while time.perf_counter() < busy_until:
                pass
        next_s += period_s
        time.sleep(max(0.0, next_s - time.monotonic()))

pulser = threading.Thread(target=_pulse, args=(%d, %r, %r), daemon=True)
pulser.start()
'''


def _browser(client: Any, ids: Dict[str, str], stop: threading.Event) -> None:
    """The browser's part: every ``pulse_out`` update the kernel publishes goes back as a ``pulse_in`` update."""
    while not stop.is_set():
        try:
            msg = client.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "stream" and not ids:
            ids.update(json.loads(content["text"].strip().splitlines()[0]))
        elif kind == "comm_msg" and ids and content.get("comm_id") == ids["out"]:
            data = content.get("data", {})
            if data.get("method") == "update" and "value" in data.get("state", {}):
                echo = {"method": "update", "state": {"value": data["state"]["value"]}, "buffer_paths": []}
                client.shell_channel.send(client.session.msg("comm_msg", {"comm_id": ids["in"], "data": echo}))


def measure(load: str, seconds: float = 20.0, fps: float = 30.0) -> Dict[str, Any]:
    """Echo age statistics (ms) of one run with ``load`` (``idle`` or ``panel``) in a fresh kernel."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    stop = threading.Event()
    try:
        client.wait_for_ready(timeout=60)
        ids = {}  # type: Dict[str, str]
        browser = threading.Thread(target=_browser, args=(client, ids, stop), daemon=True)
        browser.start()
        pulses = int(seconds * fps)
        client.execute(KERNEL_CODE % (pulses, 1.0 / fps, load == "panel"))
        time.sleep(seconds + 1.0)
        stop.set()
        browser.join(2.0)
        out = []  # type: List[str]
        client.execute_interactive("pulser.join(); print(json.dumps(heartbeat.echo_stats_ms()))", timeout=60,
                                   output_hook=lambda m: out.append(m["content"].get("text", "")))
        stats = json.loads("".join(out).strip().splitlines()[-1])
    finally:
        stop.set()
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    stats = dict((k, round(v, 1)) for k, v in stats.items())
    stats.update(load=load, fps=fps, period_ms=round(1000.0 / fps, 1))
    return stats


def bench(seconds: float = 20.0, fps: float = 30.0) -> List[Dict[str, Any]]:
    """One row per load (``idle``, ``panel``): pulses for ``seconds`` at ``fps``, the echo age's median, p99 and max."""
    return [measure(load, seconds, fps) for load in ("idle", "panel")]


def format_report(rows: List[Dict[str, Any]], fps: float = 30.0) -> str:
    """The table a person reads."""
    lines = ["browser heartbeat echo age through an ipykernel, browser on localhost; one pulse every %.1f ms"
             % (1000.0 / fps),
             "%-6s %7s %10s %8s %8s" % ("load", "pulses", "median ms", "p99 ms", "max ms")]
    for row in rows:
        lines.append("%-6s %7d %10.1f %8.1f %8.1f"
                     % (row["load"], row["pulses"], row["median"], row["p99"], row["max"]))
    return "\n".join(lines)
