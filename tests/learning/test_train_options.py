"""Training options: one schema (learning/train_options.TRAIN) holds each option's type, range and default;
the library refuses a bad value before anything is read or written, naming the option, its range and the
likely option meant."""
import os

import pytest

from jetracer.learning.train import TrainError, train
from jetracer.learning.train_options import TRAIN, TrainOptions, check_options
from jetracer.schema import defaults


def test_the_options_object_has_exactly_the_schema_s_keys_and_its_defaults():
    assert list(TrainOptions._fields) == list(TRAIN)
    assert check_options({})._asdict() == defaults(TRAIN)
    # None is "not set": the default (or the recipe's choice where the default is None)
    assert check_options({"batch_size": None, "lr": None}) == check_options({})


@pytest.mark.parametrize("options,needles", [
    ({"epochs": 0}, ["epochs", "[1, 100000]", "found 0"]),
    ({"lr": 0.0}, ["lr", "(0, 10]"]),
    ({"lr": float("nan")}, ["lr", "finite"]),
    ({"warmup": 1.0}, ["warmup", "[0.0, 0.99]"]),
    ({"schedule": "cosin"}, ["schedule", "onecycle, cosine", "did you mean cosine?"]),
    ({"arch": "resnet19"}, ["arch", "did you mean resnet18?"]),
    ({"input_size": 8}, ["input_size", "[16, 1024]"]),
    ({"input_size": (120, 160, 3)}, ["input_size", "N or HxW"]),
    ({"dataset_weights": [1, -1]}, ["dataset_weights", "non-negative"]),
    ({"dataset_weights": "sizes"}, ["dataset_weights", "'size'"]),
    ({"pretrained": 1}, ["pretrained", "true or false"]),
    ({"categories": []}, ["categories", "category names"]),
    ({"device": "tpu"}, ["device", "auto, cpu, cuda or cuda:N", "'tpu'"]),
])
def test_a_bad_value_names_the_option_and_what_it_takes(options, needles):
    with pytest.raises(TrainError) as caught:
        check_options(options)
    message = str(caught.value)
    assert all(n in message for n in needles), message
    assert isinstance(caught.value, ValueError)


def test_every_problem_is_named_at_once_and_an_unknown_option_gets_the_likely_one():
    with pytest.raises(TrainError) as caught:
        check_options({"epochs": 0, "batch_size": 0})
    assert "epochs: expected" in str(caught.value) and "batch_size: expected" in str(caught.value)
    with pytest.raises(TrainError, match="unknown training option.*batchsize.*did you mean batch_size"):
        check_options({"batchsize": 8})


def test_train_refuses_a_bad_option_before_it_reads_or_writes_anything(tmp_path):
    out = tmp_path / "run" / "m.pth"
    with pytest.raises(TrainError, match="epochs: expected a value in"):
        train([str(tmp_path / "no-such-dataset")], str(out), epochs=0)
    assert not os.path.exists(str(tmp_path / "run"))


def _parse(*args):
    from jetracer.cli.main import build_parser
    return build_parser().parse_args(["train", "data", "--out", "m.pth"] + list(args))


NUMERIC = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "warmup": "--warmup",
           "weight_decay": "--weight-decay", "workers": "--workers", "seed": "--seed", "patience": "--patience",
           "val_fraction": "--val-fraction", "test_fraction": "--test-fraction"}


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_jetracer_train_takes_the_range_of_the_schema(key, capsys):
    from jetracer.cli.train import options_from_args
    field, flag = TRAIN[key], NUMERIC[key]
    shown = (lambda v: "%d" % v) if field.kind is int else repr
    assert options_from_args(_parse(flag, shown(field.hi)))[key] == field.hi
    with pytest.raises(SystemExit):
        _parse(flag, shown(field.hi * 2 + 1))
    if key != "lr":
        assert options_from_args(_parse(flag, shown(field.lo)))[key] == field.lo
    else:  # a learning rate of 0 trains nothing: refused by both
        with pytest.raises(SystemExit):
            _parse(flag, "0")
    assert flag in capsys.readouterr().err


def test_jetracer_train_adds_no_defaults_of_its_own():
    from jetracer.cli.train import options_from_args
    assert check_options(options_from_args(_parse())) == check_options({})
    assert options_from_args(_parse("--schedule", "cosine"))["schedule"] == "cosine"
