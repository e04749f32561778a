"""Canonical JSON: the fast path writes exactly what the rfc8785 reference writes."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from expunge.evidence import canonical

plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), inner, max_size=5)
    ),
    max_leaves=25,
)
anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(plain)
def test_plain_data_matches_the_reference(obj):
    assert canonical(obj) == rfc8785.dumps(obj)


@settings(max_examples=200, deadline=None)
@given(anything)
def test_any_data_matches_the_reference(obj):
    assert canonical(obj) == rfc8785.dumps(obj)


def test_the_awkward_cases_match():
    for obj in [
        {"é": 1, "z": 2, "a": 3},
        {"\U0001f600": 1, "\ufb01": 2},
        [1.0, 1e21, -0.0, 5e-324],
        "\u2028\x7f\x1f",
    ]:
        assert canonical(obj) == rfc8785.dumps(obj)
