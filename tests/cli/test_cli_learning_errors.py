"""`jetracer train`, `pretrain`, `eval`: bad input is one stderr line and exit 2 (a named file that is missing: 1), before any work."""
import os

import pytest

from cli_run import cli_env, jetracer, one_line_error


@pytest.mark.parametrize("args,needles", [
    (["eval", "DATA", "--model", "M", "--threads", "0"], ["--threads", "expected an integer in [1, 256]"]),
    (["eval", "DATA", "--model", "M", "--sign-threshold", "nan"], ["--sign-threshold", "finite"]),
    (["pretrain", "--out", "OUT", "--frames", "0"], ["--frames"]),
    (["pretrain", "--out", "OUT", "--seed", "-1"], ["--seed"]),
    (["pretrain", "--out", "OUT", "--input-size", "9"], ["--input-size"]),
    (["train", "DATA", "--out", "OUT", "--workers", "-1"], ["--workers"]),
    (["train", "DATA", "--out", "OUT", "--dataset-weights", "1,inf"], ["--dataset-weights"]),
])
def test_bad_numbers(tmp_path, args, needles):
    args = [str(tmp_path / a) if a in ("DATA", "M", "OUT") else a for a in args]
    one_line_error(jetracer(args, cli_env(tmp_path)), 2, *needles)


def test_eval_names_a_missing_model_or_a_folder_as_plot(tmp_path):
    import cv2
    import numpy as np
    env = cli_env(tmp_path)
    data = tmp_path / "data" / "apex"
    data.mkdir(parents=True)
    cv2.imwrite(str(data / "16_24_a.jpg"), np.full((48, 64, 3), 100, np.uint8))
    one_line_error(jetracer(["eval", str(tmp_path / "data"), "--model", str(tmp_path / "none.pth")], env), 1,
                   "no model file at")
    model = tmp_path / "m.pth"
    model.write_bytes(b"x")
    one_line_error(jetracer(["eval", str(tmp_path / "data"), "--model", str(model), "--plot", str(tmp_path)], env),
                   2, "--plot", "is a folder")


def test_pretrain_refuses_an_existing_out_before_collecting(tmp_path):
    out = tmp_path / "starter.pth"
    out.write_bytes(b"the starter")
    one_line_error(jetracer(["pretrain", "--out", str(out), "--preset", "quick"], cli_env(tmp_path)), 2,
                   "exists", "--force")
    assert out.read_bytes() == b"the starter" and not os.path.exists(str(tmp_path / "starter_data"))

