"""Testing utilities for users' own test suites."""

from symreg.testing._assert import RTOL, assert_equivariant

__all__ = ["RTOL", "assert_equivariant"]
