"""The bad-input batteries, one per layer (tests/<layer>/test_<layer>_bad_inputs.py), together.

tests/bad_input_helpers.py says what a battery holds; this counts the cases of their tables.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
BATTERIES = sorted(TESTS.glob("*/test_*_bad_inputs.py"))
TABLES = ("CASES", "VALUE_ERRORS", "TYPE_ERRORS")


def load(path):
    """The battery's module, as pytest imports it (by its unique basename, its folder on sys.path)."""
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    return importlib.import_module(path.stem)


def test_the_battery_is_large():
    counts = {p.stem: sum(len(getattr(load(p), t, {})) for t in TABLES) for p in BATTERIES}
    assert sum(counts.values()) >= 40, counts
