"""Every benchmark, one module each; ``jetracer bench <what>`` runs them (:mod:`jetracer.cli.bench`).

Each module keeps a library function returning its results as a dict (and a ``format_report`` for the
table a person reads); the command-line options live in the CLI, so every bench has the CLI's one-line
errors and exit codes. None of them is imported by the library.
"""
from ...errors import UserError


class BenchError(UserError):
    """A benchmark was asked for what it cannot measure (a key it does not know): exit 2, naming what it can."""
