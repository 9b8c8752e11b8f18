"""The README quickstart runs as shown: its first ```python block executes in a fresh
interpreter, and what it prints matches the ```text block that follows it (when there is one).

Numbers are compared with a tolerance, so a quickstart may print floats that differ in the last
digits across CPUs, GPUs and library versions; everything else must match exactly (up to
trailing whitespace).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
#: Relative and absolute tolerances on each printed number.
RTOL = 1e-2
ATOL = 1e-6
#: Seconds the quickstart may take in the subprocess (it should take a few).
TIMEOUT = 120

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")


def quickstart(text: str) -> tuple[str, str | None]:
    """(code of the first ```python block, the ```text block right after it or None)."""
    blocks = list(FENCE.finditer(text))
    for i, block in enumerate(blocks):
        if block.group(1) == "python":
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            between = text[block.end() : after.start()] if after else ""
            if after is not None and after.group(1) == "text" and not between.strip():
                return block.group(2), after.group(2)
            return block.group(2), None
    raise AssertionError("README.md has no ```python block")


INTEGER = re.compile(r"[-+]?\d+")


def split_numbers(line: str) -> tuple[list[str], list[str]]:
    """The text between numbers and the numbers of one line."""
    line = line.rstrip()
    return NUMBER.split(line), NUMBER.findall(line)


def numbers_close(a: str, b: str) -> bool:
    """Integers (shapes, counts) exactly; floats within ATOL + RTOL · max(|a|, |b|)."""
    if INTEGER.fullmatch(a) and INTEGER.fullmatch(b):
        return int(a) == int(b)
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= ATOL + RTOL * max(abs(x), abs(y))


def mismatches(printed: str, expected: str) -> list[str]:
    """Human-readable differences between printed and expected output, line by line."""
    got, want = printed.rstrip().splitlines(), expected.rstrip().splitlines()
    if len(got) != len(want):
        return [f"{len(got)} lines printed, README shows {len(want)}:\n{printed}"]
    out = []
    for k, (g, w) in enumerate(zip(got, want, strict=True), 1):
        (g_text, g_num), (w_text, w_num) = split_numbers(g), split_numbers(w)
        if g_text != w_text or len(g_num) != len(w_num):
            out.append(f"line {k}: printed {g!r}, README {w!r}")
        elif not all(numbers_close(a, b) for a, b in zip(g_num, w_num, strict=True)):
            out.append(f"line {k}: numbers differ beyond rtol {RTOL}: printed {g!r}, README {w!r}")
    return out


@pytest.fixture(scope="module")
def readme_quickstart():
    return quickstart(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run(readme_quickstart, tmp_path_factory):
    code, _ = readme_quickstart
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path_factory.mktemp("readme"),
        env=env,
    )


def test_quickstart_runs(run):
    assert run.returncode == 0, f"the README quickstart failed:\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), "the README quickstart printed nothing"


def test_quickstart_prints_what_the_readme_shows(readme_quickstart, run):
    _, expected = readme_quickstart
    if expected is None:
        pytest.skip("the README quickstart is not followed by a ```text block of its output")
    assert run.returncode == 0, run.stderr[-3000:]
    problems = mismatches(run.stdout, expected)
    assert not problems, "\n".join(problems)


# --- the comparison itself ----------------------------------------------------------------------


def test_quickstart_extraction_finds_code_and_its_output():
    text = "intro\n```bash\nmake\n```\n```python\nprint(1)\n```\n\n```text\n1\n```\n"
    assert quickstart(text) == ("print(1)\n", "1\n")
    assert quickstart("```python\nprint(1)\n```\nprose\n```text\n1\n```\n") == ("print(1)\n", None)


@pytest.mark.parametrize(
    "printed, expected, ok",
    [
        ("ED_2 = 0.1581 ± 0.013\n", "ED_2 = 0.1582 ± 0.013", True),
        ("(24, 2048) 5.3147", "(24, 2048) 5.3147", True),
        ("beta = 3.41e-04", "beta = 0.000341", True),
        ("ED_2 = 0.1581", "ED_2 = 0.1781", False),
        ("eta = 0.15", "eta_2 = 0.15", False),
        ("(24, 2048)", "(24, 2047)", False),  # integers (shapes) exactly
        ("n = 2048.0", "n = 2047.9", True),  # floats within RTOL
        ("a 1.0", "a 1.0\nb 2.0", False),
        ("x = 0.0", "x = 3e-14", True),
    ],
)
def test_output_comparison_tolerates_float_noise_only(printed, expected, ok):
    assert (mismatches(printed, expected) == []) is ok
