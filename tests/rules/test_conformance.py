"""Every registered rule passes ``plasticity.testing.check_rule`` (parametrised from the registry, not a list)."""

from __future__ import annotations

import pytest
import torch

from plasticity.errors import ConfigError
from plasticity.rules import RULES, LearningRule, make_rule, rule_names
from plasticity.testing import check_rule


@pytest.mark.parametrize("name", rule_names())
def test_rule_conforms(name: str) -> None:
    torch.manual_seed(0)
    results = check_rule(name)
    assert {"grad", "params", "optimizers", "state_dict", "remove", "dtypes.cpu", "unsupported"} <= set(results)


@pytest.mark.parametrize("name", rule_names())
def test_name_is_the_registry_key_and_repr_is_complete(name: str) -> None:
    rule = make_rule(name)
    assert rule.name == name
    assert isinstance(rule, LearningRule)
    rebuilt = type(rule)(**rule.get_params())
    assert repr(rebuilt) == repr(rule)


def test_repr_and_state_carry_the_arguments() -> None:
    rule = make_rule("dfa-optical", bits=4)
    assert "bits=4" in repr(rule) and rule.state_dict()["params"]["bits"] == 4
    other = make_rule("dfa-optical")
    other.load_state_dict(rule.state_dict())
    assert other.bits == 4
    with pytest.raises(ConfigError, match="cannot be loaded"):
        make_rule("fa").load_state_dict(rule.state_dict())


def test_registry_is_a_mapping_and_registration_works() -> None:
    assert "fa" in RULES and sorted(RULES) == list(RULES) and len(RULES) == len(rule_names())
    from plasticity.rules.backprop import Backprop
    from plasticity.rules.registry import register_rule

    class MyBP(Backprop):
        name = "my-bp-test"

    register_rule("my-bp-test", MyBP)
    try:
        assert make_rule("my-bp-test").name == "my-bp-test"
    finally:
        del RULES["my-bp-test"]
    assert "my-bp-test" not in RULES
