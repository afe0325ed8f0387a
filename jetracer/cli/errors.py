"""The CLI's one error path: which exceptions are the user's to fix (one line, exit 2 or 1) and which are bugs.

A verb raises; :func:`jetracer.cli.main.main` calls :func:`exit_code` and :func:`one_line`. The exit
codes of every ``jetracer`` command:

====  ===========  ==========================================================================================
code  meaning      when
====  ===========  ==========================================================================================
0     done         the command did what was asked
2     usage        what was typed or configured cannot be: an option, a config key, a car profile, a
                   device this machine does not have, a bare ``jetracer`` or ``jetracer bench``
1     failure      the request was fine but could not be done: a model file that cannot be used, a camera or
                   I2C device that does not answer, a self-check refusal, a missing package, a file or
                   device the command was pointed at (``OSError``); also a bug (one line saying so)
130   interrupted  Ctrl-C
====  ===========  ==========================================================================================

A few verbs also report an outcome with their code: ``sim drive`` and ``demo`` exit 1 when the laps asked
for were not completed, ``bench inference`` when a backend failed, ``drive`` 3 when its supervisor was lost.

The library's errors carry their code (:mod:`jetracer.errors`: :class:`~jetracer.errors.UserError` is 2,
:class:`~jetracer.errors.Failure` is 1), so no list of class names is kept here and a renamed class keeps
its code. Anything else is a bug: one line saying so, and its traceback with ``jetracer -v``.
"""
from typing import Optional

from ..errors import FAILURE, USAGE, Failure, UserError

INTERRUPTED = 130


class UsageError(UserError):
    """The command line asks for something that cannot be: exit 2, the message names the option and the fix."""


class CommandFailed(Failure):
    """The command could not do what was asked: exit 1, the message says why and what to do."""


def exit_code(error: BaseException) -> Optional[int]:
    """The exit code for a user error, or None for a bug."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    code = getattr(type(error), "exit_code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(error, ImportError):
        # a package that is not installed is the environment's; a jetracer module that fails to import is a bug
        name = getattr(error, "name", None) or ""
        return FAILURE if type(error) is not ImportError and name and not name.startswith("jetracer") else None
    if isinstance(error, OSError):  # a file, device or socket the command was pointed at
        return FAILURE
    return None


PIP_NAMES = {"cv2": "opencv-python (on a Jetson: JetPack's OpenCV)", "PIL": "Pillow", "yaml": "PyYAML",
             "torch": "torch (on a Jetson: NVIDIA's wheel for your JetPack)", "gymnasium": "gymnasium"}


def one_line(error: BaseException) -> str:
    """The error's message as one line (the library's messages may hold a list of problems)."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(error).split())
    if type(error).__name__ == "ModuleNotFoundError" and getattr(error, "name", None):
        top = error.name.split(".")[0]
        text = "%s; install %s or use a command that does not need it" % (text, PIP_NAMES.get(top, top))
    return text or type(error).__name__
