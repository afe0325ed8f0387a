"""The CLI's one error path: user errors are one line with exit 2 (usage) or 1 (failure); a bug says it is one,
and ``jetracer -v`` shows its traceback."""
import subprocess
import sys

from cli_run import cli_env, jetracer, one_line_error

# A verb whose library call has a bug: the real ``jetracer display`` with ``run_display`` replaced by a
# test double that raises a plain RuntimeError, run through the real entry point.
BUGGY = """
import sys
import jetracer.display.service as service

def run_display(*args, **kwargs):
    raise RuntimeError("index 3 is out of bounds (a bug)")

service.run_display = run_display
from jetracer.cli.main import main
main(sys.argv[1:])
"""


def run_buggy(args, env):
    return subprocess.run([sys.executable, "-c", BUGGY] + args, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_a_bug_is_one_line_that_says_so_without_v(tmp_path):
    line = one_line_error(run_buggy(["display", "--once"], cli_env(tmp_path)), 1,
                          "jetracer display: internal error (RuntimeError: index 3 is out of bounds (a bug))",
                          "this is a bug", "jetracer -v")


def test_v_shows_a_bug_s_traceback(tmp_path):
    proc = run_buggy(["-v", "display", "--once"], cli_env(tmp_path))
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and 'in run_display' in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("jetracer display: internal error (RuntimeError")


def test_usage_and_failure_exit_codes(tmp_path):
    env = cli_env(tmp_path)
    # usage: what was typed cannot be
    one_line_error(jetracer(["drive", "--model", "expert"], env), 2, "--model expert", "only works with --sim")
    one_line_error(jetracer(["drive", "--arm", "--sim", "--model", "expert"], dict(env, INVOCATION_ID="1")), 2,
                   "--arm is refused under systemd")
    one_line_error(jetracer(["sim", "drive", "--expert", "--track", "ovl"], env), 2, "unknown track 'ovl'")
    # failures: the request was fine, the thing it names is not
    one_line_error(jetracer(["drive", "--sim", "--model", str(tmp_path / "none.pth")], env), 1,
                   "no model file at %s" % (tmp_path / "none.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a model at all")
    one_line_error(jetracer(["sim", "drive", "--model", str(junk), "--laps", "1"], env), 1, str(junk))
    one_line_error(jetracer(["dataset", "info", str(tmp_path / "nowhere")], env), 1, "does not exist")
    one_line_error(jetracer(["arm"], env), 1, "no drive process is running")


def test_jetracer_without_a_verb_prints_usage_on_stderr_and_exits_2(tmp_path):
    proc = jetracer([], cli_env(tmp_path))
    assert proc.returncode == 2 and proc.stderr.startswith("usage: jetracer") and proc.stdout == ""
    assert "train" in proc.stderr and "drive" in proc.stderr  # the verbs are named


def test_bench_without_a_benchmark_names_them_in_one_line(tmp_path):
    one_line_error(jetracer(["bench"], cli_env(tmp_path)), 2, "jetracer bench: name a benchmark: jetracer bench ",
                   "inference|hardware|loop|safety|heartbeat|sim|transfer")


def test_bench_errors_are_one_line(tmp_path):
    env = cli_env(tmp_path)
    one_line_error(jetracer(["bench", "safety", "--faults", "sigkill,nosuch"], env), 2,
                   "jetracer bench safety", "unknown fault(s) nosuch", "second-writer")
    one_line_error(jetracer(["bench", "safety", "--profile", "nosuch"], env), 2, "jetracer bench safety: ", "nosuch")
    one_line_error(jetracer(["bench", "hardware", "--profile", "nosuch"], env), 2, "jetracer bench hardware: ",
                   "nosuch")
    one_line_error(jetracer(["bench", "sim", "--track", "ovl"], env), 2, "jetracer bench sim: ", "unknown track 'ovl'")
    one_line_error(jetracer(["transfer-bench", "--real", str(tmp_path / "nowhere")], env), 2,
                   "jetracer transfer-bench: real frames not found at %s" % (tmp_path / "nowhere"))


def test_the_safety_bench_module_runs_only_its_own_processes(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jetracer.apps.bench.safety"], env=cli_env(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    one_line_error(proc, 2, "child FAULT DIR", "jetracer bench safety")
