"""Configs: YAML + --set overrides; every bad input is one ConfigError naming key, value and allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest

from plasticity.errors import ConfigError
from plasticity.lab.config import apply_overrides, load_config, parse_override, validate_config
from plasticity.lab.optim import make_optimizer, register_optimizer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_example_config_loads_with_overrides() -> None:
    cfg = load_config(CONFIGS / "digits_fa.yaml", ["geometry.lr=0.05", "model.hidden=[32, 16]", "seed=7"])
    assert cfg.rule.name == "fa" and cfg.geometry.lr == 0.05 and cfg.model.hidden == [32, 16] and cfg.seed == 7
    assert cfg.digest() == load_config(CONFIGS / "digits_fa.yaml", {"geometry.lr": 0.05, "model.hidden": [32, 16],
                                                                    "seed": 7}).digest()


@pytest.mark.parametrize(("data", "needle"), [
    ({"training": {"epochz": 3}}, "unknown key 'training.epochz'; allowed: batch_size"),
    ({"geometry": {"lr": -0.1}}, "geometry.lr=-0.1 is invalid: Input should be greater than 0; allowed: (0"),
    ({"rule": {"name": "nope"}}, "rule.name='nope' is invalid: unknown rule; allowed: bp"),
    ({"training": {"epochs": "ten"}}, "training.epochs='ten' is invalid"),
    ({"geometry": {"momentum": 1.5}}, "geometry.momentum=1.5 is invalid"),
    ({"geometry": {"name": "rmsprop"}}, "unknown geometry; allowed: adam"),
    ({"data": {"name": "cifar99"}}, "unknown dataset; allowed:"),
    ({"model": {"hidden": [0]}}, "model.hidden=[0] is invalid: every hidden width must be >= 1"),
    ({"bogus": 1}, "unknown key 'bogus'; allowed: data, device, geometry"),
])
def test_errors_name_key_value_and_allowed(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(data)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(lst)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_overrides() -> None:
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("x=true") == (["x"], True)
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override("nokey")
    assert apply_overrides({"a": {"b": 1}}, ["a.c=2"]) == {"a": {"b": 1, "c": 2}}
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_optimizer_factory_is_pluggable() -> None:
    import torch

    p = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer("sgd", p, lr=0.1, momentum=0.9), torch.optim.SGD)
    assert isinstance(make_optimizer("adam", p, lr=0.1), torch.optim.Adam)
    register_optimizer("test-sgd", lambda params, lr, **kw: torch.optim.SGD(params, lr=lr))
    assert validate_config({"geometry": {"name": "test-sgd"}}).geometry.name == "test-sgd"
    with pytest.raises(ConfigError, match="rejected its parameters"):
        make_optimizer("sgd", p, lr=0.1, nesterovv=True)


def test_exponent_floats_are_numbers_in_overrides_and_files(tmp_path) -> None:
    """YAML 1.1 reads '5.0e7' and '1e-3' as strings; our loader reads them as floats (YAML 1.2)."""
    from plasticity.lab.config import load_yaml, parse_override

    assert parse_override("tau_theta=5.0e7") == (["tau_theta"], 5.0e7)
    assert parse_override("lr=1e-3")[1] == 1e-3 and parse_override("x=-2E+3")[1] == -2000.0
    assert parse_override("name=abc")[1] == "abc" and parse_override("v=1.2.3")[1] == "1.2.3"
    assert load_yaml("lr: 1e-4\nsizes: [1e3, 2]\n") == {"lr": 1e-4, "sizes": [1000.0, 2]}
