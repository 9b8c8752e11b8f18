"""Every ```python block of the README runs as shown: the blocks execute in order in one fresh
interpreter (later blocks use the names of earlier ones, as a reader would run them), and what
each prints matches the ```text block that follows it (when there is one). ```bash blocks are
the install and `make` commands, which CI runs itself.

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

README = Path(__file__).resolve().parents[2] / "README.md"
#: Relative and absolute tolerances on each printed number.
RTOL = 1e-2
ATOL = 1e-6
#: Seconds all the README's Python may take in the subprocess.
TIMEOUT = 300
#: Printed between blocks, to split the output by block.
MARKER = "<<<README BLOCK {}>>>"

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")


def python_blocks(text: str) -> list[tuple[str, str | None]]:
    """(code, the ```text block right after it or None) for every ```python block, in order."""
    blocks = list(FENCE.finditer(text))
    out = []
    for i, block in enumerate(blocks):
        if block.group(1) != "python":
            continue
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        between = text[block.end() : after.start()] if after else ""
        follows = after is not None and after.group(1) == "text" and not between.strip()
        out.append((block.group(2), after.group(2) if follows else None))
    return out


def script(blocks: list[tuple[str, str | None]]) -> str:
    """One program: each block's code after a line that prints its marker."""
    return "".join(f"print({MARKER.format(i)!r})\n{code}" for i, (code, _) in enumerate(blocks))


def split_output(stdout: str, count: int) -> list[str]:
    """The output of each block, from the markers."""
    parts = re.split(r"^<<<README BLOCK (\d+)>>>\n", stdout, flags=re.MULTILINE)
    out = [""] * count
    for index, body in zip(parts[1::2], parts[2::2], strict=True):
        out[int(index)] = body
    return out


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
def blocks():
    return python_blocks(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run(blocks, tmp_path_factory):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", script(blocks)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path_factory.mktemp("readme"),
        env=env,
    )


def test_readme_has_the_quickstart_and_the_training_example(blocks):
    assert len(blocks) >= 3
    assert "calibrate(" in "".join(code for code, _ in blocks)


def test_every_python_block_runs(run):
    assert run.returncode == 0, f"the README's Python failed:\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), "the README's Python printed nothing"


def test_every_block_prints_what_the_readme_shows(blocks, run):
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = split_output(run.stdout, len(blocks))
    shown = [(i, expected) for i, (_, expected) in enumerate(blocks) if expected is not None]
    assert len(shown) >= 2  # the quickstart's and the training example's output
    for i, expected in shown:
        problems = mismatches(outputs[i], expected)
        assert not problems, f"block {i}:\n" + "\n".join(problems)


# --- the comparison itself ----------------------------------------------------------------------


def test_block_extraction_finds_code_and_its_output():
    text = "intro\n```bash\nmake\n```\n```python\nprint(1)\n```\n\n```text\n1\n```\n"
    text += "```python\nprint(2)\n```\nprose\n```text\n2\n```\n"
    assert python_blocks(text) == [("print(1)\n", "1\n"), ("print(2)\n", None)]
    out = subprocess.run([sys.executable, "-c", script(python_blocks(text))],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert split_output(out, 2) == ["1\n", "2\n"]


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
