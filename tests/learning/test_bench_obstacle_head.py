"""``jetracer bench inference --obstacle-head``: each backend timed with and without the obstacle head."""
from jetracer.apps.bench.inference import format_report, head_variants, run_bench
from jetracer.pilot.model import build_model


def test_the_head_variants_share_the_road_rows():
    import torch
    model = build_model("resnet18", 2, pretrained=False).eval()
    plain, plain_meta, head, head_meta = head_variants(model, {"categories": ["apex"], "input_size": [32, 32]})
    x = torch.randn(1, 3, 32, 32)
    assert plain_meta["obstacle_outputs"] == [] and head_meta["obstacle_outputs"] == ["blocked_logit", "distance_m"]
    assert head(x).shape == (1, 4) and torch.allclose(head(x)[:, :2], plain(x), atol=1e-6)


def test_the_report_holds_both_medians_and_the_added_cost():
    report = run_bench(device="cpu", runs=3, warmup=0, input_size=64, threads=1, only=["torch-fp32"],
                       obstacle_head=True)
    head = report["results"]["torch-fp32"]["obstacle_head"]
    assert head["has_obstacle_output"] and head["outputs"] == ["blocked_logit", "distance_m"]
    assert head["p50_ms_road_only"] > 0 and head["p50_ms_with_head"] > 0
    assert abs(head["added_ms"] - (head["p50_ms_with_head"] - head["p50_ms_road_only"])) < 1e-9
    assert "obstacle head" in format_report(report)
