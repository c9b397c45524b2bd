from __future__ import annotations

import pytest

import plasticity as P
from plasticity.studies import get_study, list_studies


def test_unknown_study_lists_known():
    with pytest.raises(P.ConfigError, match="unknown study 'nope'"):
        get_study("nope")
    assert isinstance(list_studies(), list)
