"""The library's errors share one base that says whose problem it is, so the CLI needs no list of classes.

Every error class the library raises on purpose derives from :class:`UserError` (what was typed or
configured cannot be: the message names the setting and the fix) or :class:`Failure` (the request was
fine but could not be done: the message says why and what to do), and keeps its other bases, so an
``except ValueError`` or ``except OSError`` around a call still catches what it caught before.
``exit_code`` is what ``jetracer`` exits with (:mod:`jetracer.cli.errors` has the table); a class
renamed or moved keeps it, because it travels with the class.
"""

USAGE = 2
FAILURE = 1


class JetracerError(Exception):
    """Raised by the library on purpose: one line for a person, never a bug. ``exit_code``: the CLI's."""

    exit_code = FAILURE


class UserError(JetracerError, ValueError):
    """What was typed or configured cannot be (exit 2): an option, a config key, a car profile, a file name."""

    exit_code = USAGE


class Failure(JetracerError, RuntimeError):
    """The request was fine but could not be done (exit 1): a model file that cannot be used, a device
    that does not answer, a self-check refusal."""

    exit_code = FAILURE


__all__ = ["FAILURE", "USAGE", "Failure", "JetracerError", "UserError"]
