"""The bad-input battery of `symreg.debug`.

Each case raises a readable ValueError or TypeError (tests/bad_input_helpers.py: the tables).
"""

from __future__ import annotations

import pytest
from bad_input_helpers import T, assert_readable_error

import symreg

#: id -> (call, exception type, regex that the message must match)
CASES = {
    "debug-checked-not-callable": (
        lambda: symreg.debug.checked("yes"),
        T,
        r"fn must be callable, got 'yes' of type str",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_readable_error(case):
    assert_readable_error(*CASES[case])
