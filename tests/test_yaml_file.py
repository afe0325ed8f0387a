"""Configs and car profiles cannot hang or exhaust the car: a YAML alias bomb of a few hundred bytes, a
document that contains itself, a link to /dev/zero and a sparse 3 GiB file are refused in one line naming the
file and the limit; /dev/null still means "the defaults" and ordinary anchors and merge keys still load."""
import os
import subprocess
import sys

import pytest

from jetracer.config import ConfigError, load_config
from jetracer.yaml_file import MAX_NODES, YamlFileError, read_yaml_mapping


def _bomb(levels=8, width=9):
    """``profile_overrides`` whose last alias stands for width**levels strings: 414 bytes for 43 million."""
    lines = ["profile_overrides:", '  notes: &a [%s]' % ",".join(['"lol"'] * width)]
    for level in range(1, levels):
        lines.append("  n%d: &a%d [%s]" % (level, level, ",".join(["*a" if level == 1 else "*a%d" % (level - 1)] * width)))
    return "\n".join(lines) + "\n"


def _write(tmp_path, name, text):
    path = str(tmp_path / name)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.timeout(60)
def test_an_alias_bomb_and_a_recursive_document_are_refused_before_they_are_built(tmp_path):
    bomb = _write(tmp_path, "bomb.yaml", _bomb())
    assert os.path.getsize(bomb) < 500
    with pytest.raises(ConfigError) as info:
        load_config(bomb, env={})
    assert str(info.value) == ("config file %s expands to more than %d values through its aliases (*name), over the "
                               "limit; a config holds a few hundred: write the values out" % (bomb, MAX_NODES))
    recursive = _write(tmp_path, "recursive.yaml", "profile_overrides: &a {steering: *a}\n")
    with pytest.raises(YamlFileError, match="recursive.yaml has a YAML alias .* inside the node it names"):
        read_yaml_mapping(recursive)
    small = _write(tmp_path, "small.yaml", _bomb(levels=3))   # 729 values: an ordinary use of aliases
    assert len(read_yaml_mapping(small)["profile_overrides"]["n2"]) == 9


def test_anchors_merge_keys_and_dev_null_still_load(tmp_path):
    merged = _write(tmp_path, "merged.yaml", "base: &b {x: 1, y: 2}\ncar:\n  <<: *b\n  y: 3\nalso: *b\n")
    assert read_yaml_mapping(merged) == {"base": {"x": 1, "y": 2}, "car": {"x": 1, "y": 3}, "also": {"x": 1, "y": 2}}
    link = str(tmp_path / "defaults.yaml")
    os.symlink(os.devnull, link)
    assert read_yaml_mapping(os.devnull) == {} and read_yaml_mapping(link) == {}
    assert load_config(os.devnull, env={}).profile_name == load_config(link, env={}).profile_name


@pytest.mark.timeout(60)
def test_dev_zero_and_a_sparse_3_gib_config_are_refused_at_once(tmp_path):
    zero = str(tmp_path / "zero.yaml")
    os.symlink("/dev/zero", zero)
    sparse = _write(tmp_path, "sparse.yaml", "profile: latrax\n")
    os.truncate(sparse, 3 << 30)
    for path, expected in ((zero, "is not a regular file (a FIFO, socket or device)"),
                           (sparse, "is larger than 1024 KiB: not a config file")):
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        assert ("config file %s %s" % (path, expected)) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.timeout(120)
def test_the_cli_refuses_a_bomb_config_and_a_bomb_profile_in_one_line(tmp_path):
    bomb = _write(tmp_path, "bomb.yaml", _bomb())
    profile = _write(tmp_path, "car.yaml", "name: mycar\n" + _bomb().replace("profile_overrides:", "extras:"))
    env = dict(os.environ, JETRACER_I2C="emulated", JETRACER_STATE=str(tmp_path / "state.json"),
               JETRACER_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), OMP_NUM_THREADS="1")
    for key in ("JETRACER_PROFILE", "JETRACER_CAMERA", "JETRACER_EMULATED_BUS"):
        env.pop(key, None)
    for extra, path, what in (({"JETRACER_CONFIG": bomb}, bomb, "config file"),
                              ({"JETRACER_CONFIG": os.devnull, "JETRACER_PROFILE": profile}, profile, "car profile")):
        proc = subprocess.run([sys.executable, "-m", "jetracer", "emulator", "show"], env=dict(env, **extra),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "%s %s expands to more than %d values" % (what, path, MAX_NODES) in lines[0]
