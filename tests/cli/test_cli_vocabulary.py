"""One CLI vocabulary: a shared option means one thing in every verb, and the same mistake gets the same one
line and exit code everywhere (usage 2, failure 1). Each case once ended in "internal error", exit 0 or help
on stdout: ``train --arch nosuchnet``, ``eval --device cuda`` without a GPU, ``demo --device tpu``,
``bench inference --only nosuch``, a bare ``jetracer``; ``jetracer demo`` printed every epoch twice."""
import ast
import json
import os
import re
import subprocess
import sys

import pytest

from cli_run import cli_env, jetracer, one_line_error

import jetracer.cli.options as options

NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}  # torch sees no GPU here even on a machine that has one

# Every verb with --device, with what else it needs to get as far as its first check (DATA, M, OUT: files in tmp).
DEVICE_VERBS = [
    ["train", "DATA", "--out", "OUT"],
    ["pretrain", "--out", "OUT"],
    ["eval", "DATA", "--model", "M"],
    ["optimize", "M", "--backend", "torch"],
    ["demo", "--out", "OUT"],
    ["bench", "inference", "--runs", "1", "--warmup", "0"],
]


def _args(args, tmp_path):
    names = {"DATA": tmp_path / "data", "M": tmp_path / "m.pth", "OUT": tmp_path / "out.pth"}
    return [str(names[a]) if a in names else a for a in args]


def _labelled_frames(tmp_path):
    import cv2
    import numpy as np
    folder = tmp_path / "data" / "apex"
    folder.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(folder / ("%d_24_%d.jpg" % (10 + i, i))), np.full((48, 64, 3), 90 + i, np.uint8))


@pytest.mark.parametrize("verb", DEVICE_VERBS, ids=[" ".join(v[:2]) if v[0] == "bench" else v[0] for v in DEVICE_VERBS])
def test_a_device_that_is_no_device_is_one_line_and_exit_2_in_every_verb(tmp_path, verb):
    proc = jetracer(_args(verb, tmp_path) + ["--device", "tpu"], cli_env(tmp_path), timeout_s=60)
    line = one_line_error(proc, 2, "argument --device: unknown device 'tpu'", "auto, cpu, cuda or cuda:N")
    assert line.startswith("jetracer %s" % verb[0])
    assert not os.path.exists(str(tmp_path / "out.pth")) and not os.path.exists(str(tmp_path / "out.pth_data"))


@pytest.mark.parametrize("verb", DEVICE_VERBS, ids=[" ".join(v[:2]) if v[0] == "bench" else v[0] for v in DEVICE_VERBS])
def test_cuda_without_a_gpu_is_one_line_and_exit_2_in_every_verb(tmp_path, verb):
    _labelled_frames(tmp_path)
    from jetracer.pilot.checkpoint import save_checkpoint
    from jetracer.pilot.model import build_model
    save_checkpoint(str(tmp_path / "m.pth"), build_model("resnet18", 2, pretrained=False), "resnet18", 32, ["apex"],
                    train_args={"dataset": [str(tmp_path / "data")]})
    proc = jetracer(_args(verb, tmp_path) + ["--device", "cuda"], cli_env(tmp_path, **NO_GPU), timeout_s=120)
    one_line_error(proc, 2, "--device cuda: this machine has no CUDA GPU", "use --device cpu")
    assert not os.path.exists(str(tmp_path / "out.pth")), "nothing was trained"


def test_train_with_an_unknown_arch_names_the_known_ones(tmp_path):
    _labelled_frames(tmp_path)
    line = one_line_error(jetracer(["train", str(tmp_path / "data"), "--out", str(tmp_path / "m.pth"), "--arch",
                                    "nosuchnet"], cli_env(tmp_path)), 2,
                          "jetracer train: argument --arch: invalid choice: 'nosuchnet'", "resnet18")
    from jetracer.pilot.model import ARCHS
    assert all(arch in line for arch in ARCHS)
    assert not os.path.exists(str(tmp_path / "m.pth"))


def test_bench_inference_with_an_unknown_only_key_fails_naming_the_keys(tmp_path):
    proc = jetracer(["bench", "inference", "--only", "nosuch", "--runs", "1"], cli_env(tmp_path), timeout_s=60)
    one_line_error(proc, 2, "jetracer bench inference: --only nosuch: not measured on cpu", "onnxruntime-int8")
    assert proc.stdout == "", "no report of nothing measured"


@pytest.mark.parametrize("verb,expected", [
    (["sim"], "jetracer sim: name a command: jetracer sim collect|drive|bench|track"),
    (["dataset"], "jetracer dataset: name a command: jetracer dataset info"),
    (["bench"], "jetracer bench: name a benchmark: jetracer bench inference|"),
])
def test_a_verb_without_its_command_is_one_line_and_exit_2(tmp_path, verb, expected):
    proc = jetracer(verb, cli_env(tmp_path), timeout_s=30)
    one_line_error(proc, 2, expected)
    assert proc.stdout == ""


@pytest.mark.parametrize("args", [
    ["eval", "DATA", "--model", "M", "--plot", "FOLDER"],
    ["sim", "track", "--out", "FOLDER"],
    ["optimize", "M", "--out", "FOLDER"],
], ids=["eval --plot", "sim track --out", "optimize --out"])
def test_an_output_file_that_is_a_folder_is_refused_the_same_way_in_every_verb(tmp_path, args):
    args = [str(tmp_path) if a == "FOLDER" else a for a in _args(args, tmp_path)]
    one_line_error(jetracer(args, cli_env(tmp_path), timeout_s=60), 2, "%s is a folder; name the" % tmp_path)


@pytest.mark.parametrize("args,option", [
    (["eval", "DATA", "--model", "M", "--plot", "BLOCKED"], "--plot"),
    (["sim", "track", "--out", "BLOCKED"], "--out"),
    (["display", "--once", "--save-png", "BLOCKED"], "--save-png"),
    (["optimize", "M", "--out", "BLOCKED"], "--out"),
], ids=["eval --plot", "sim track --out", "display --save-png", "optimize --out"])
def test_an_output_file_where_nothing_can_be_written_is_refused_before_any_work(tmp_path, args, option):
    (tmp_path / "afile").write_text("a file, not a folder")
    blocked = str(tmp_path / "afile" / "x.png")
    proc = jetracer([blocked if a == "BLOCKED" else a for a in _args(args, tmp_path)], cli_env(tmp_path), timeout_s=60)
    line = one_line_error(proc, 2, "argument %s" % option, blocked)
    assert "cannot write in" in line or "does not exist" in line, line


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    one_line_error(jetracer(["sim", "collect", "--frames", "3", "--out", str(tmp_path / "afile")], cli_env(tmp_path)),
                   2, "argument --out", "is a file; name a folder for the dataset")
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("args", [["bench", "hardware", "-n", "1"], ["bench", "safety", "--runs", "1"],
                                  ["sim", "track", "--out", "OUT.png"], ["emulator", "show", "--steering", "0"]])
def test_an_unknown_profile_is_one_line_and_exit_2_in_every_verb(tmp_path, args):
    args = [str(tmp_path / "t.png") if a == "OUT.png" else a for a in args]
    one_line_error(jetracer(args + ["--profile", "nosuchcar"], cli_env(tmp_path), timeout_s=60), 2, "nosuchcar")


@pytest.mark.parametrize("args", [["eval", "DATA", "--model", "M"], ["optimize", "M"], ["pretrain", "--out", "OUT"],
                                  ["train", "DATA", "--out", "OUT"], ["bench", "inference"]])
def test_threads_has_one_range_in_every_verb(tmp_path, args):
    one_line_error(jetracer(_args(args, tmp_path) + ["--threads", "0"], cli_env(tmp_path), timeout_s=60), 2,
                   "argument --threads: expected an integer in [1, 256], got 0")


@pytest.mark.parametrize("args", [["eval", "DATA", "--model", "NONE"], ["sim", "drive", "--model", "NONE", "--laps", "1"],
                                  ["optimize", "NONE", "--backend", "torch", "--device", "cpu"],
                                  ["export", "NONE", "--upstream", "OUT"], ["bench", "inference", "--checkpoint", "NONE"],
                                  ["train", "DATA", "--init", "NONE", "--out", "OUT"]],
                         ids=["eval", "sim drive", "optimize", "export", "bench inference", "train --init"])
def test_a_model_file_that_does_not_exist_is_a_failure_in_every_verb(tmp_path, args):
    _labelled_frames(tmp_path)
    none = str(tmp_path / "none.pth")
    proc = jetracer([none if a == "NONE" else a for a in _args(args, tmp_path)], cli_env(tmp_path), timeout_s=120)
    one_line_error(proc, 1, none)
    assert not os.path.exists(str(tmp_path / "out.pth"))


@pytest.mark.parametrize("args", [["train", "NODATA", "--out", "OUT"], ["eval", "NODATA", "--model", "M"],
                                  ["dataset", "info", "NODATA"]], ids=["train", "eval", "dataset info"])
def test_a_dataset_folder_that_does_not_exist_is_a_failure_in_every_verb(tmp_path, args):
    (tmp_path / "m.pth").write_bytes(b"not looked at")
    nodata = str(tmp_path / "nodata")
    proc = jetracer([nodata if a == "NODATA" else a for a in _args(args, tmp_path)], cli_env(tmp_path), timeout_s=120)
    one_line_error(proc, 1, "dataset folder %s does not exist" % nodata)


def test_the_demo_says_each_epoch_once(tmp_path):
    out = tmp_path / "demo"
    proc = jetracer(["demo", "--quick", "--frames", "20", "--epochs", "2", "--laps", "1", "--out", str(out)],
                    cli_env(tmp_path), timeout_s=600)
    assert proc.returncode in (0, 1), proc.stderr  # 1: the laps were not completed (a 20-frame model)
    text = proc.stdout + proc.stderr
    for epoch in (1, 2):
        said = [line for line in text.splitlines() if re.search(r"^\s*epoch %d: " % epoch, line)]
        assert len(said) == 1, said
    report = json.loads((out / "report.json").read_text())
    # the epoch that drove best on the validation tracks is the model, said once; the other epochs are gone
    kept = report["epoch_choice"]
    assert kept["epoch"] in (1, 2) and [r["epoch"] for r in kept["table"]] == [1, 2], kept
    assert len([line for line in text.splitlines() if "kept epoch %d of 2" % kept["epoch"] in line]) == 1
    assert (out / "model.pth").is_file() and not (out / "epochs").exists()
    assert report["obstacle"]["reading"] in ("model", "label") and "obstacle:   " + report["obstacle"]["summary"] in text
    assert (out / "obstacle_frames" / "blocked").is_dir() or (out / "obstacle_frames" / "free").is_dir()
    for note in report["notes"]:  # a refused backend: the figures and the tolerance, not an option demo lacks
        if "refused by the parity check" in note:
            assert "tolerance 0.02" in note and "--tolerance" not in note, note


def test_building_the_parser_imports_no_library_vocabulary(tmp_path):
    """``jetracer --help`` stays fast on a Nano: the choices are read when an option needs them."""
    code = ("import sys; from jetracer.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('numpy', 'torch', 'cv2', 'jetracer.pilot.model', 'jetracer.learning.optimize', "
            "'jetracer.apps.pretrain', 'jetracer.config_schema') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env(tmp_path), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", (proc.stdout, proc.stderr)


def test_the_choices_are_the_library_s_own():
    from jetracer.apps.pretrain import PRESETS
    from jetracer.config_schema import field_at
    from jetracer.learning.optimize import BACKENDS, SUPPORTED
    from jetracer.pilot.model import ARCHS
    assert list(options.DRIVE_MODES) == list(field_at(("drive", "mode")).choices)
    assert list(options.DISPLAY_HEIGHTS) == list(field_at(("display", "height")).choices)
    assert sorted(options.ARCHS) == sorted(ARCHS)
    assert list(options.OPTIMIZE_BACKENDS) == list(BACKENDS)
    assert sorted(options.OPTIMIZE_PRECISIONS) == sorted(set(p for ps in SUPPORTED.values() for p in ps))
    assert sorted(options.PRETRAIN_PRESETS) == sorted(PRESETS)


# The CLI's own words, not copies of a library vocabulary: the sub-actions of two verbs; train's and the
# transfer bench's --batch-norm and --schedule (the training options' schema will own them).
OWN_CHOICES = {("emulator.py", "('show',)"), ("service.py", "('install', 'uninstall', 'status')"),
               ("train.py", "['frozen', 'trained']"), ("train.py", "['onecycle', 'cosine']"),
               ("bench.py", "['frozen', 'trained']")}


def test_no_verb_writes_a_library_vocabulary_as_a_literal():
    folder = os.path.dirname(options.__file__)
    found = set()
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(open(os.path.join(folder, name)).read())):
            if isinstance(node, ast.keyword) and node.arg == "choices" and isinstance(node.value, (ast.List, ast.Tuple)):
                found.add((name, repr(ast.literal_eval(node.value))))
    assert found <= OWN_CHOICES, "derive these from the library's vocabulary (cli/options.py): %s" % sorted(
        found - OWN_CHOICES)
