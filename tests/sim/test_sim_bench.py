"""``jetracer sim bench --sizes``: realistic and plain render rates side by side for each size asked."""
import json
import subprocess
import sys


def test_sim_bench_times_both_looks_at_each_size():
    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "sim", "bench", "--steps", "3", "--runs", "2",
                             "--sizes", "48,32", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert sorted(result["sizes"]) == ["32x32", "48x48"]
    for size, figures in result["sizes"].items():
        assert "%dx%d" % (figures["width"], figures["height"]) == size
        assert figures["render_fps"] > 0 and figures["plain_render_fps"] > 0 and figures["step_fps"] > 0
        assert abs(figures["slowdown"] - figures["plain_render_fps"] / figures["render_fps"]) < 0.02
    assert "randomize=False" in result["plain"]


def test_bad_sizes_are_one_line_on_stderr():
    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "sim", "bench", "--sizes", "224,x"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err
    assert "--sizes" in err and "224,64" in err
