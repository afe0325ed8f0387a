"""``jetracer doctor``: what is wrong with this car and how to fix it, one check per line.

Each check (:mod:`jetracer.apps.doctor_checks`) gives a :class:`Finding`: a status (``ok``,
``warning``, ``fail``, ``skipped``), what it found and the fix, one line each, so a new owner can
act on every line. The doctor runs every check whatever the others found: a check that breaks, or
does not finish within its time, is reported as ``fail`` with its error and the next one runs. It
writes nothing to the car: I2C probes are reads (never while another process owns the motors), the
camera is opened for about 1.5 s, the model is loaded in a child process.

Off the Jetson every check still runs, on the emulated bus and the simulator camera where the car's
own devices are missing, or says ``skipped`` and why. The exit code is 0 when no check failed, 1
otherwise (:func:`exit_code`).
"""
import platform
import time
from typing import Any, Callable, List, Optional, Sequence

from .doctor_checks.base import STATUSES, Check, Context, Finding
from .doctor_checks.probe import one_line, time_boxed

__all__ = ["STATUSES", "Check", "Context", "Finding", "doctor", "exit_code", "format_finding", "load_context",
           "run_check", "run_checks"]

def run_check(check: Check, context: Context) -> List[Finding]:
    """The findings of one check; a check that raises or runs past its time is a ``fail`` naming that."""
    if check.needs_config and context.config is None:
        return [Finding(check.name, "skipped", "not checked: the configuration does not load (see config)",
                        "fix what the config line says first, then run jetracer doctor again")]
    finished, value, error = time_boxed(lambda: check.func(context), check.timeout_s, "doctor-" + check.name)
    if not finished:
        return [Finding(check.name, "fail", "the check did not finish within %.0f s (something it asked does not "
                                            "answer)" % check.timeout_s,
                        "run `jetracer -v doctor` to see where it waits; the checks after it still ran")]
    if error is not None:
        return [Finding(check.name, "fail", "the check itself failed: %s: %s" % (type(error).__name__, one_line(error)),
                        "this is a bug in jetracer doctor: please report it with this line; the other checks still ran")]
    findings = value if isinstance(value, (list, tuple)) else [value]
    return [f if isinstance(f, Finding) else Finding(check.name, "fail", "the check returned %r" % (f,),
                                                     "this is a bug in jetracer doctor: please report it")
            for f in findings]


def run_checks(context: Context, checks: Optional[Sequence[Check]] = None,
               progress: Optional[Callable[[Finding], None]] = None) -> List[Finding]:
    """Every check in order (default :data:`jetracer.apps.doctor_checks.CHECKS`); ``progress`` sees each finding."""
    if checks is None:
        from .doctor_checks import CHECKS
        checks = CHECKS
    findings = []  # type: List[Finding]
    for check in checks:
        for finding in run_check(check, context):
            findings.append(finding)
            if progress is not None:
                progress(finding)
    return findings


def load_context(config_path: Optional[str] = None, source: Optional[str] = None, **kwargs: Any) -> Context:
    """A :class:`Context` on the user's configuration; a configuration that does not load is kept as the
    reason (the config check reports it), never raised."""
    from ..config import default_config_path, load_config
    from ..hardware.emulated.bus import EmulatedFaultsError, Wiring, faults_from_env
    try:
        Wiring(faults_from_env())
    except EmulatedFaultsError as e:
        return Context(None, config_error=one_line(e), config_path=config_path or default_config_path(),
                       config_fix="give JETRACER_EMULATED_FAULTS the forms it names, or unset it", **kwargs)
    try:
        config = load_config(config_path, source=source)
        config.load_profile()  # a profile (or its overrides) that does not load is the config's problem too
    except Exception as e:  # noqa: BLE001 - ConfigError, ProfileError, YamlFileError...: the config check says it
        return Context(None, config_error=one_line(e), config_path=config_path or default_config_path(), **kwargs)
    return Context(config, **kwargs)


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when no check failed, 1 otherwise."""
    return 1 if any(f.status == "fail" for f in findings) else 0


LABELS = {"ok": "ok", "warning": "WARNING", "fail": "FAIL", "skipped": "skipped"}


def format_finding(finding: Finding) -> str:
    """``FAIL     kit           <finding>`` and, when it is not ok, an indented ``fix: ...`` line."""
    line = "%-8s %-14s %s" % (LABELS[finding.status], finding.name, finding.finding)
    if finding.fix and finding.status != "ok":
        line += "\n%-8s %-14s fix: %s" % ("", "", finding.fix)
    return line


def summary(findings: Sequence[Finding], seconds: float) -> str:
    counts = dict((s, sum(1 for f in findings if f.status == s)) for s in STATUSES)
    return ("%d checks in %.1f s: %d ok, %d warning%s, %d failed, %d skipped (%s)"
            % (len(findings), seconds, counts["ok"], counts["warning"], "" if counts["warning"] == 1 else "s",
               counts["fail"], counts["skipped"], platform.node() or "this machine"))


def doctor(config_path: Optional[str] = None, source: Optional[str] = None, as_json: bool = False,
           write: Callable[[str], Any] = print) -> int:
    """Run every check, print the report (text as it goes, or one JSON object at the end); the exit code."""
    import json
    started = time.monotonic()
    context = load_context(config_path, source=source)
    findings = run_checks(context, progress=None if as_json else (lambda f: write(format_finding(f))))
    if as_json:
        write(json.dumps({"checks": [f.to_dict() for f in findings]}, indent=1))
    else:
        write(summary(findings, time.monotonic() - started))
    return exit_code(findings)
