"""A notebook dashboard around :class:`jetracer.driving.loop.DriveLoop`.

Camera view with the loop's target drawn, mode buttons, steering-law sliders (gain, bias, derivative,
throttle), STOP, E-STOP and ARM, the stop reason, the obstacle stop's blocked probability and state (a
loop with an ``obstacle_stop``) and per-stage timings. :meth:`DrivePanel.start` runs the
loop on a thread (the notebook stays usable); :meth:`DrivePanel.run` runs it here for a bounded number
of iterations (smoke mode, scripts). Either way the loop stops the car when it ends.

A loop starts disarmed. Running the cell that calls ``start()``/``run()`` is a person's explicit
instruction to drive, so they arm the loop (``arm=False`` starts it disarmed: then press ARM); after
an e-stop, a supervisor trip or a failsafe latch only ARM (or the gamepad's START) drives again.
"""
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from .camera_view import CameraView
from .controls import StopButtons

LAW_SLIDERS = (("gain", "steering gain", -8.0, 8.0), ("bias", "steering bias", -0.5, 0.5),
               ("kd", "derivative (kd)", 0.0, 0.2), ("throttle", "throttle", 0.0, 1.0))


def obstacle_line(status: Optional[Dict[str, Any]]) -> str:
    """HTML: the obstacle stop's blocked probability and state (:meth:`ObstacleStop.status`), or that it is off."""
    if not status:
        return "obstacle stop: off"
    p = status.get("blocked_p")
    shown = "p(blocked) %s" % ("-" if p is None else "%.2f" % p)
    if status.get("state") == "clear":
        return "obstacle stop: %s (stops at %.2f), way clear" % (shown, status.get("threshold", 0.5))
    what = "waiting for ARM" if status.get("state") == "waiting for arm" else "STOPPED for an obstacle"
    return "<span style='color:red'><b>%s</b></span>: %s" % (what, shown)


def timing_table(timing_ms: Dict[str, float]) -> str:
    """HTML rows ``stage: x.x ms`` of one iteration's timings (stages in the loop's order)."""
    rows = "".join("<tr><td>%s</td><td style='text-align:right'>%.1f ms</td></tr>" % (k.replace("_ms", ""), v)
                   for k, v in timing_ms.items())
    return "<table>%s</table>" % rows


class DrivePanel(object):
    """Widgets for a drive loop. ``widget`` is what to display; ``views`` holds extra live images.

    ``display_hz`` bounds how often images are re-encoded (the loop itself is not slowed).
    ``add_view(render)`` adds an image refreshed with ``render()`` (e.g. the simulator's top-down map).
    """

    def __init__(self, loop: Any, width_px: Optional[int] = None, display_hz: float = 15.0) -> None:
        import ipywidgets

        self.loop = loop
        self.car = loop.car
        self.view = CameraView(width_px=width_px)
        self.views = []  # type: List[Any]
        self._renders = []  # type: List[Callable[[], Any]]
        self.display_period_s = 1.0 / display_hz
        self._last_display = float("-inf")
        self._thread = None  # type: Optional[threading.Thread]
        self.result = None  # type: Optional[Dict[str, Any]]

        self.mode = ipywidgets.ToggleButtons(options=["manual", "auto-steer", "auto"], value=loop.mode,
                                             description="mode")
        self.mode.observe(self._on_mode, names="value")
        loop.observe(lambda change: setattr(self.mode, "value", change["new"]), names="mode")
        self.sliders = {}
        for attr, label, lo, hi in LAW_SLIDERS:
            value = float(getattr(loop.law, attr))
            slider = ipywidgets.FloatSlider(min=min(lo, value), max=max(hi, value), step=0.01 if attr != "kd" else 0.002,
                                            value=value, description=label, readout_format=".3f",
                                            style={"description_width": "initial"})
            slider.observe(self._law_setter(attr), names="value")
            self.sliders[attr] = slider
        self.stop_buttons = StopButtons(self.car, arm=loop.arm)
        self.stop_buttons.stop_button.on_click(lambda _: self.stop())
        self.status = ipywidgets.HTML()
        self.timings = ipywidgets.HTML()
        self._images = ipywidgets.HBox([self.view.widget])
        self.widget = ipywidgets.VBox([
            self._images, self.mode, ipywidgets.VBox(list(self.sliders.values())), self.stop_buttons.widget,
            ipywidgets.HBox([self.status, self.timings]),
        ])
        loop.observe(self._on_iteration, names="iterations")

    def add_view(self, render: Callable[[], Any], width_px: Optional[int] = None) -> CameraView:
        """Add a live image refreshed with ``render()`` (a BGR frame) at the display rate."""
        view = CameraView(width_px=width_px)
        self.views.append(view)
        self._renders.append(render)
        self._images.children = tuple(self._images.children) + (view.widget,)
        view.show(render())
        return view

    # -- running -----------------------------------------------------------------------------------

    def run(self, max_iterations: Optional[int] = None, duration_s: Optional[float] = None,
            arm: bool = True) -> Dict[str, Any]:
        """Run the loop in this thread until it ends (armed unless ``arm=False``); refresh the widgets; return its metrics."""
        if arm:
            self.loop.arm()
        self.result = self.loop.run(max_iterations=max_iterations, duration_s=duration_s)
        self.refresh()
        return self.result

    def start(self, max_iterations: Optional[int] = None, duration_s: Optional[float] = None,
              arm: bool = True) -> None:
        """Run the loop on a background thread (STOP, :meth:`stop` or the limits end it); armed unless ``arm=False``."""
        if self.running:
            return
        self._thread = threading.Thread(target=self.run, args=(max_iterations, duration_s, arm), name="drive-panel",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> Optional[Dict[str, Any]]:
        """End the loop (the car goes to neutral) and wait for its thread; return its metrics."""
        self.loop.request_stop()
        self.car.stop("notebook stop")
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.result

    # -- widgets -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw images and numbers now."""
        loop = self.loop
        frame = getattr(loop.camera, "value", None)
        self.view.show(frame, target=tuple(loop.target) if loop.mode != "manual" else None)
        for view, render in zip(self.views, self._renders):
            view.show(render())
        car = self.car
        reason = loop.stop_reason or ("e-stop" if car.estopped else "")
        self.status.value = ("<b>%s</b> %s &nbsp; %.1f fps &nbsp; steering %+.2f &nbsp; throttle %+.2f<br>%s"
                             % (loop.mode, "armed" if loop.armed else "DISARMED", loop.fps, car.steering, car.throttle,
                                ("<span style='color:red'>stopped: %s</span>" % reason) if reason else "driving"))
        stop = getattr(loop, "obstacle_stop", None)
        self.status.value += "<br>" + obstacle_line(stop.status() if stop is not None else None)
        self.timings.value = timing_table(loop.timing_ms)
        echo = loop.heartbeat.echo_stats_ms() if hasattr(loop.heartbeat, "echo_stats_ms") else {}
        if echo:
            self.status.value += ("<br>browser echo age: median %.0f ms, p99 %.0f ms, worst %.0f ms (the car stops "
                                  "after %.0f ms)" % (echo["median"], echo["p99"], echo["max"],
                                                      1000.0 * loop.heartbeat_timeout_s))

    def _on_iteration(self, change: Any) -> None:
        now = time.monotonic()
        if now - self._last_display >= self.display_period_s:
            self._last_display = now
            self.refresh()

    def _on_mode(self, change: Any) -> None:
        try:
            self.loop.mode = change["new"]
        except Exception as e:  # noqa: BLE001 - a refused mode is shown, the loop keeps its mode
            self.status.value = "<span style='color:red'>%s</span>" % e
            self.mode.value = self.loop.mode

    def _law_setter(self, attr: str) -> Callable[[Any], None]:
        def setter(change: Any) -> None:
            setattr(self.loop.law, attr, float(change["new"]))
        return setter
