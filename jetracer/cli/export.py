"""``jetracer export CKPT --upstream OUT.pth``: a checkpoint as the plain state dict upstream's notebooks load."""
import argparse
import json
from typing import Any

from .options import add_json_option, integer


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="write a checkpoint for upstream's notebooks (plain resnet18 state dict, BGR input)",
        description="Write CKPT as the plain resnet18 state dict that upstream's notebooks load with "
                    "model.load_state_dict(torch.load(path)) and feed as upstream does (the camera's BGR frame, "
                    "to_tensor, ImageNet normalisation): the colour order and normalisation are folded into "
                    "conv1/bn1. Prints the largest difference from jetracer's own output on synthetic road "
                    "frames (only conv1's zero-padded border differs).")
    p.add_argument("checkpoint", metavar="CKPT", help="jetracer checkpoint (or upstream state dict) of a resnet18")
    p.add_argument("--upstream", required=True, metavar="OUT.pth", help="where to write the upstream state dict")
    p.add_argument("--check-frames", type=integer(0, 1000), default=16, metavar="N",
                   help="synthetic road frames to measure the difference on (0: skip)")
    add_json_option(p, "the result")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from jetracer.learning.upstream_export import border_difference, export_upstream
    result = export_upstream(args.checkpoint, args.upstream)
    if args.check_frames > 0:
        from jetracer.apps.bench.inference import road_frames
        size = tuple(result["input_size"])
        result["difference"] = border_difference(args.checkpoint, road_frames(args.check_frames, size, seed=1))
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
        return 0
    print("wrote %s: resnet18, fc 512 -> %d, for upstream's BGR to_tensor + ImageNet preprocessing (folded in: "
          "%s input, mean %s, std %s)" % (result["path"], 2 * len(result["categories"]), result["from_color_order"],
                                          result["from_mean"], result["from_std"]))
    if "difference" in result:
        d = result["difference"]
        print("vs jetracer's own output on %d synthetic road frames: max |dx| %.4f, max |dy| %.4f (conv1's "
              "zero-padded border)" % (d["frames"], d["max_abs_dx"], d["max_abs_dy"]))
    for note in result["notes"]:
        print("note: %s" % note)
    return 0
