"""Known-good software combinations, as data: per JetPack (by its L4T release) and for a desktop.

A Jetson can only use NVIDIA's PyTorch wheels for its JetPack, built for JetPack's Python, and a
torchvision built against that torch; TensorRT comes with JetPack and an engine only loads on the
TensorRT that built it. The upstream threads that break on a JetPack image are nearly always one of
these pairs being off (users.md: "Installation and versions").
"""
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

# L4T release prefix -> what that JetPack runs. torch/torchvision: the NVIDIA wheels (and the torchvision
# releases built against them); tensorrt: the major.minor JetPack ships.
JETPACKS = (
    {"l4t": "32.6", "jetpack": "4.6", "python": ("3.6",), "torch": ("1.10",), "torchvision": ("0.11",),
     "tensorrt": ("8.0",)},
    {"l4t": "32.7", "jetpack": "4.6.1-4.6.6", "python": ("3.6",), "torch": ("1.10",), "torchvision": ("0.11",),
     "tensorrt": ("8.2",)},
    {"l4t": "35.1", "jetpack": "5.0.2", "python": ("3.8",), "torch": ("1.12", "1.13"),
     "torchvision": ("0.13", "0.14"), "tensorrt": ("8.4",)},
    {"l4t": "35", "jetpack": "5.1.x", "python": ("3.8",), "torch": ("2.0", "2.1"), "torchvision": ("0.15", "0.16"),
     "tensorrt": ("8.5",)},
    {"l4t": "36.3", "jetpack": "6.0", "python": ("3.10",), "torch": ("2.2", "2.3", "2.4"),
     "torchvision": ("0.17", "0.18", "0.19"), "tensorrt": ("8.6",)},
    {"l4t": "36", "jetpack": "6.1/6.2", "python": ("3.10",), "torch": ("2.5", "2.6", "2.7", "2.8"),
     "torchvision": ("0.20", "0.21", "0.22", "0.23"), "tensorrt": ("10.3",)},
)
DESKTOP = {"python_min": "3.8", "torch_min": "1.10"}  # setup.py's train extra (and its Python floor off the car)


def major_minor(version: Optional[str]) -> str:
    """``"1.10.0+cu102"`` -> ``"1.10"``; "" when there is no version."""
    match = re.match(r"\s*(\d+)\.(\d+)", version or "")
    return "%s.%s" % match.groups() if match else ""


def _key(version: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def torchvision_for(torch_version: str) -> str:
    """The torchvision major.minor released with ``torch_version`` (1.N -> 0.N+1, 2.N -> 0.N+15)."""
    parts = _key(major_minor(torch_version))
    if len(parts) < 2:
        return ""
    major, minor = parts[:2]
    if major == 1 and minor >= 4:
        return "0.%d" % (minor + 1)
    if major == 2:
        return "0.%d" % (minor + 15)
    return ""


def l4t_release(text: Optional[str]) -> str:
    """``"32.7.1"`` from /etc/nv_tegra_release (``# R32 (release), REVISION: 7.1, ...``); "" if not one."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text or "")
    return "%s.%s" % (match.group(1), match.group(2).rstrip(".")) if match else ""


def jetpack_for(l4t: str) -> Optional[Dict[str, Any]]:
    """The :data:`JETPACKS` row of an L4T release (the longest matching prefix), or None."""
    rows = [r for r in JETPACKS if l4t == r["l4t"] or l4t.startswith(r["l4t"] + ".")]
    return max(rows, key=lambda r: len(r["l4t"])) if rows else None


def judge(python: str, versions: Dict[str, str], l4t: str = "") -> Tuple[str, List[str]]:
    """``(status, problems)`` of a combination: ``versions`` maps torch, torchvision, tensorrt to a version
    ("" when not installed). ``ok`` with no problems is a known-good combination."""
    problems = []  # type: List[str]
    torch, vision, trt = (versions.get(k, "") for k in ("torch", "torchvision", "tensorrt"))
    if torch and vision and torchvision_for(torch) and major_minor(vision) != torchvision_for(torch):
        problems.append("torchvision %s is not torch %s's (that is torchvision %s)"
                        % (major_minor(vision), major_minor(torch), torchvision_for(torch)))
    if l4t:
        row = jetpack_for(l4t)
        if row is None:
            return "warning", ["L4T %s is a JetPack this doctor has no table for" % l4t]
        for name, have in (("Python", python), ("torch", torch), ("torchvision", vision), ("TensorRT", trt)):
            allowed = row[name.lower()]
            if have and major_minor(have) not in allowed:
                problems.append("%s %s is not JetPack %s's (%s)" % (name, major_minor(have), row["jetpack"],
                                                                    " or ".join(allowed)))
        return ("warning" if problems else "ok"), problems
    if _key(python) < _key(DESKTOP["python_min"]):
        problems.append("Python %s is older than %s, the oldest the training and simulator extras install on off "
                        "the car" % (major_minor(python), DESKTOP["python_min"]))
    if torch and _key(major_minor(torch)) < _key(DESKTOP["torch_min"]):
        problems.append("torch %s is older than %s" % (major_minor(torch), DESKTOP["torch_min"]))
    return ("warning" if problems else "ok"), problems


def describe_row(l4t: str) -> str:
    """``JetPack 4.6.1-4.6.6 (Python 3.6, torch 1.10, torchvision 0.11, TensorRT 8.2)`` for a fix line."""
    row = jetpack_for(l4t)
    if row is None:
        return "your JetPack's"
    return "JetPack %s (Python %s, torch %s, torchvision %s, TensorRT %s)" % tuple(
        [row["jetpack"]] + [" or ".join(row[k]) for k in ("python", "torch", "torchvision", "tensorrt")])


def known_combinations() -> Sequence[str]:
    """Every row of the table as text (for the documentation)."""
    return [describe_row(r["l4t"] + ".0") for r in JETPACKS]
