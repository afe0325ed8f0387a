"""jetracer bench --json on the CPU: every available backend timed next to the upstream reference."""
import json

import cv2
import pytest
import torch

from jetracer.cli.main import main

torch.set_num_threads(1)
cv2.setNumThreads(1)


def test_bench_json_reports_every_cpu_backend(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--json", "--runs", "3", "--warmup", "1", "--input-size", "64", "--threads", "1"])
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
