"""jetracer bench inference --json on the CPU: every available backend timed next to the upstream reference."""
import json
import logging

import cv2
import pytest
import torch

from jetracer.cli.main import main

torch.set_num_threads(1)
cv2.setNumThreads(1)


def test_bench_json_reports_every_cpu_backend(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "inference", "--json", "--runs", "3", "--warmup", "1", "--input-size", "64", "--threads", "1"])
    assert exit_info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"] == "cpu" and report["input_size"] == [64, 64] and report["reference_ms"] > 0
    assert set(report["results"]) == {"torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"}, report["skipped"]
    for key, result in report["results"].items():
        assert {"p50_ms", "p99_ms", "speedup", "max_abs_dx"} <= set(result), key
        assert 0 < result["p50_ms"] <= result["p99_ms"]
        assert result["speedup"] == report["reference_ms"] / result["p50_ms"]
    assert report["results"]["torch-fp32"]["max_abs_dx"] == 0.0
    assert report["results"]["onnxruntime-fp32"]["max_abs_dx"] < 1e-4
    assert report["results"]["onnxruntime-int8"]["max_abs_dx"] > 0
    assert report["best"] in report["results"]


def test_batchnorm_folding_keeps_the_outputs_with_no_batchnorm_left():
    from jetracer.pilot.model import build_model
    from jetracer.pilot.torch_backend import fold_batchnorm
    torch.manual_seed(0)
    model = build_model("resnet18", 2, pretrained=False).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):  # stats as after training
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    frames = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(frames)
        folded = fold_batchnorm(model)
        got = folded(frames)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.Conv2d) for m in folded.modules()) == 20
    assert (got - expected).abs().max().item() < 1e-4 and expected.abs().max().item() > 1e-3


def test_a_missing_runtime_is_skipped_and_a_bug_is_a_failure(capsys, monkeypatch):
    import sys
    import jetracer.learning.optimize as optimize

    real = optimize.build_candidate

    def build(model, meta, backend, precision, *args, **kwargs):
        if precision == "int8":
            raise ZeroDivisionError("a bug in the int8 path")
        return real(model, meta, backend, precision, *args, **kwargs)

    monkeypatch.setattr(optimize, "build_candidate", build)
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "inference", "--json", "--runs", "2", "--warmup", "0", "--input-size", "64", "--threads", "1"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert exit_info.value.code == 1 and "onnxruntime-int8" in err.splitlines()[-1]
    assert report["failed"] == {"onnxruntime-int8": "ZeroDivisionError: a bug in the int8 path"}
    assert "onnxruntime-int8" not in report["skipped"] and "onnxruntime-fp32" in report["results"]

    monkeypatch.setattr(optimize, "build_candidate", real)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed: import raises ImportError
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "inference", "--json", "--runs", "2", "--warmup", "0", "--input-size", "64", "--threads", "1"])
    report = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 0 and report["failed"] == {}
    assert set(report["skipped"]) == {"onnxruntime-fp32", "onnxruntime-int8"} and "torch-fp32" in report["results"]


def test_bench_training_times_both_arms_and_they_train_the_same_weights(capsys, caplog, tiny_dataset):
    caplog.set_level(logging.INFO)
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "training", tiny_dataset, "--runs", "1", "--epochs", "1", "--input-size", "32", "--threads", "1",
              "--json"])
    assert exit_info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert all(len(report["seconds"][arm]) == 1 and report["median_s"][arm] > 0 for arm in ("kept", "decoded"))
    assert report["max_weight_difference"] == 0.0 and report["speedup"] > 0
    # the timings, not each training's epoch lines; the loggers are as they were afterwards
    assert not [r for r in caplog.records if r.name.startswith("jetracer.learning") and r.levelno < logging.WARNING]
    assert logging.getLogger("jetracer.learning").level == logging.NOTSET and logging.getLogger().level == logging.INFO


def test_bench_training_on_a_missing_folder_is_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "training", str(tmp_path / "nowhere"), "--runs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code != 0 and len(err) == 1 and "nowhere" in err[0] and "Traceback" not in err[0], err
