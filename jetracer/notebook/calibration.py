"""The guided calibration as a notebook widget: the engine of ``jetracer calibrate``, answered with buttons.

:class:`CalibrationPanel` runs :class:`jetracer.services.guided_calibration.GuidedCalibration`'s
questions one at a time: each question shows its answers as buttons (``prompt.choices``), a box for a
typed pulse or value when the question takes one, and Quit. A click sends that answer to the engine,
which moves the outputs, saves what is confirmed and asks the next question; the same answers as at
the terminal give the same saved config. Works with ipywidgets 7 and 8 (only Button, Text, HTML and
boxes are used). Nothing touches the chips until :meth:`CalibrationPanel.start`.
"""
import html
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..services.calibrate import CalibrationAborted

_RUNNING = weakref.WeakSet()  # type: Any  # the panels of this kernel whose calibration is under way


class CalibrationPanel(object):
    """Widgets for the guided calibration of ``config``'s car (else the configured one); ``widget`` is what to display.

    ``result`` is the engine's result once it ends (``{"path", "saved", "confirmed"}``), ``error`` the
    one-line reason when it stopped early (quit, a chip that does not answer, the motors owned by
    another process). Keyword arguments go to the engine (``throttle``, ``save_path``, ``provider``,
    the timing).
    """

    MAX_LOG_LINES = 300

    def __init__(self, config: Any = None, **engine: Any) -> None:
        import ipywidgets

        from ..config import load_config
        from ..services.guided_calibration import GuidedCalibration

        self.config = config if config is not None else load_config(must_exist=False)
        self.engine = GuidedCalibration(self.config, say=self.say, **engine)
        self.lines = []  # type: List[str]
        self.result = None  # type: Optional[Dict[str, Any]]
        self.error = None  # type: Optional[str]
        self.prompt = None  # type: Any
        self.choice_buttons = {}  # type: Dict[str, Any]
        self._questions = None  # type: Any
        self.log = ipywidgets.HTML()
        self.question = ipywidgets.HTML()
        self.buttons = ipywidgets.HBox([])
        self.typed = ipywidgets.Text(placeholder="a pulse in us or a value", disabled=True)
        self.send_button = ipywidgets.Button(description="Send", disabled=True, tooltip="send the typed pulse or value")
        self.quit_button = ipywidgets.Button(description="Quit", button_style="danger", icon="stop",
                                             tooltip="stop here: outputs to neutral, confirmed steps stay saved")
        self.send_button.on_click(lambda _: self._send_typed())
        self.quit_button.on_click(lambda _: self.quit())
        self.widget = ipywidgets.VBox([self.log, self.question, self.buttons,
                                       ipywidgets.HBox([self.typed, self.send_button]), self.quit_button])

    @property
    def running(self) -> bool:
        """True while a question waits for its answer."""
        return self.prompt is not None

    @property
    def choices(self) -> Tuple[str, ...]:
        """The answers the current question offers as buttons."""
        return tuple(self.choice_buttons)

    def say(self, text: str) -> None:
        self.lines.append(text)
        del self.lines[:-self.MAX_LOG_LINES]
        self.log.value = "<pre style='white-space: pre-wrap'>%s</pre>" % html.escape("\n".join(self.lines))

    def start(self) -> None:
        """Take the motor chips, put them at neutral and ask the first question."""
        if self._questions is None:
            for other in list(_RUNNING):  # a re-run cell: the older panel lets go of the outputs first
                other.close()
            self._questions = self.engine.questions()
            _RUNNING.add(self)
            self._advance(lambda: next(self._questions))

    def answer(self, text: str) -> None:
        """Send ``text`` as the answer to the current question (what every button does)."""
        if self.running:
            self._advance(lambda: self._questions.send(text))

    def press(self, answer: str) -> None:
        """Click the button of ``answer``, or type it and click Send (how a person answers; used in smoke mode)."""
        if answer in self.choice_buttons:
            self.choice_buttons[answer].click()
        elif self.prompt is not None and self.prompt.typed:
            self.typed.value = answer
            self.send_button.click()
        else:
            raise ValueError("the question offers %s, not %r" % (", ".join(repr(c) for c in self.choices), answer))

    def quit(self) -> None:
        """Stop: outputs to neutral, the motors released; what was confirmed stays saved."""
        if self.running:
            self.answer("q")

    def close(self) -> None:
        """Quit if still running (also when the cell is re-run or the panel is dropped)."""
        self.quit()
        if self._questions is not None:
            self._questions.close()

    def _send_typed(self) -> None:
        text, self.typed.value = self.typed.value, ""
        self.answer(text)

    def _advance(self, step: Callable[[], Any]) -> None:
        try:
            prompt = step()
        except StopIteration as done:
            self.result = done.value
            self._ended("<b>Done.</b> Saved in %s." % html.escape(str(self.engine.path)))
        except (CalibrationAborted, OSError, ValueError) as e:  # quit, a chip, a config the car cannot load
            self.error = " ".join(str(e).split())
            self._ended("<b>Stopped:</b> %s" % html.escape(self.error))
        except BaseException as e:  # a bug or an interrupt: the engine has already put the outputs at neutral
            self.error = "stopped by %s (outputs at neutral)" % type(e).__name__
            self._ended("<b>Stopped:</b> %s" % html.escape(self.error))
            raise
        else:
            self._ask(prompt)

    def _ask(self, prompt: Any) -> None:
        import ipywidgets

        self.prompt = prompt
        self.question.value = "<b>%s</b>" % html.escape(str(prompt).strip())
        self.choice_buttons = {}
        for answer, label in getattr(prompt, "choices", ()):
            button = ipywidgets.Button(description=label, tooltip="answer %r" % answer if answer else "Enter")
            button.on_click(lambda _, answer=answer: self.answer(answer))
            self.choice_buttons[answer] = button
        self.buttons.children = tuple(self.choice_buttons.values())
        typed = bool(getattr(prompt, "typed", False))
        self.typed.disabled = self.send_button.disabled = not typed

    def _ended(self, text: str) -> None:
        _RUNNING.discard(self)
        self.prompt = None
        self.choice_buttons = {}
        self.buttons.children = ()
        self.typed.disabled = self.send_button.disabled = self.quit_button.disabled = True
        self.question.value = text
