"""Car controls for notebooks: command sliders, calibration sliders, stop, emergency-stop and arm buttons.

The throttle slider starts at 0 and is linked slider -> car, so linking it never moves the car
(upstream's live demo set the throttle the moment a slider was linked). Calibration sliders start at
the car's current values (from its profile).
"""
from typing import Any, List

import traitlets

COMMANDS = (("steering", -1.0, 1.0), ("throttle", -1.0, 1.0))
CALIBRATION = (("steering_gain", -1.0, 1.0), ("steering_offset", -0.5, 0.5), ("throttle_gain", -1.0, 1.0),
               ("throttle_offset", -0.3, 0.3), ("max_throttle", 0.0, 1.0))


def _slider(name: str, lo: float, hi: float, value: float, orientation: str = "horizontal") -> Any:
    import ipywidgets

    return ipywidgets.FloatSlider(min=lo, max=hi, step=0.01, value=value, description=name,
                                  orientation=orientation, continuous_update=True,
                                  style={"description_width": "initial"})


class CarSliders(object):
    """Sliders linked to a car's traits; ``widget`` shows them; ``unlink()`` detaches them.

    ``steering`` and ``throttle`` start at 0 (the car is set to 0 when linked, never to a stale value);
    gains, offsets and ``max_throttle`` start at the car's values.
    """

    def __init__(self, car: Any, calibration: bool = True) -> None:
        import ipywidgets

        self.car = car
        self.sliders = {}
        self._links = []  # type: List[Any]
        for name, lo, hi in COMMANDS:
            self.sliders[name] = _slider(name, lo, hi, 0.0)
            self._links.append(traitlets.link((self.sliders[name], "value"), (car, name)))
        if calibration:
            for name, lo, hi in CALIBRATION:
                value = float(getattr(car, name))
                slider = _slider(name, min(lo, value), max(hi, value), value)
                self.sliders[name] = slider
                self._links.append(traitlets.link((car, name), (slider, "value")))
        self.widget = ipywidgets.VBox(list(self.sliders.values()))

    def unlink(self) -> None:
        for link in self._links:
            link.unlink()
        self._links = []


class StopButtons(object):
    """A STOP button (throttle to neutral), an E-STOP toggle (latched until released) and ARM.

    ``widget`` shows them and the car's stop state; the e-stop (which is also what "disarmed" is)
    refuses every throttle command, sliders and gamepad included, until ARM (``arm()``, by default
    ``car.release_estop``; a drive panel passes ``loop.arm``) or releasing the toggle.
    """

    def __init__(self, car: Any, arm: Any = None) -> None:
        import ipywidgets

        self.car = car
        self.arm = arm or car.release_estop
        self.stop_button = ipywidgets.Button(description="STOP", button_style="warning", icon="stop")
        self.estop_button = ipywidgets.ToggleButton(value=bool(car.estopped), description="E-STOP",
                                                    button_style="danger", icon="hand-paper-o")
        self.arm_button = ipywidgets.Button(description="ARM", button_style="success", icon="play",
                                            tooltip="let the throttle move the car (you are watching it)")
        self.state = ipywidgets.HTML()
        self.stop_button.on_click(lambda _: car.stop("STOP button"))
        self.arm_button.on_click(lambda _: self.arm())
        self.estop_button.observe(self._on_estop, names="value")
        car.observe(self._on_car, names=["estopped", "stop_reason", "throttle_output"])
        self._on_car(None)
        self.widget = ipywidgets.HBox([self.stop_button, self.estop_button, self.arm_button, self.state])

    def _on_estop(self, change: Any) -> None:
        if change["new"]:
            if not self.car.estopped:
                self.car.estop("E-STOP button")
        elif self.car.estopped:
            self.arm()

    def _on_car(self, change: Any) -> None:
        car = self.car
        self.estop_button.value = bool(car.estopped)
        text = ("DISARMED" if car.estopped else ("moving" if car.throttle_output != 0.0 else "armed, stopped"))
        if car.stop_reason:
            text += " (%s)" % car.stop_reason
        self.state.value = "<b>%s</b>" % text
