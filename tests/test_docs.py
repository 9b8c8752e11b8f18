"""The documentation site: the code in docs/index.md and docs/concepts.md runs as written (each
page's ```python blocks in order, in one fresh interpreter), and every public package has an
API page. `mkdocs build --strict` itself runs in `make test` and `make docs`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The pages whose examples must run (pages by others may hold illustrative snippets).
RUNNABLE = ("index.md", "concepts.md")
#: Seconds one page's examples may take.
TIMEOUT = 300
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PACKAGES = (
    "actions",
    "equivariance",
    "estimators",
    "flax",
    "groups",
    "plot",
    "regularizers",
    "sharding",
    "testing",
    "theory",
    "tuning",
)


def code_of(page: Path) -> str:
    return "\n\n".join(m.group(1) for m in FENCE.finditer(page.read_text(encoding="utf-8")))


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNNABLE)
def test_page_examples_run(name):
    code = code_of(DOCS / name)
    assert code.strip(), f"docs/{name} has no ```python block"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"docs/{name}:\n{done.stderr[-4000:]}"


def test_code_extraction_keeps_blocks_in_order(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("a\n```python\nx = 1\n```\n```text\nno\n```\n```python\ny = x\n```\n")
    assert code_of(page) == "x = 1\n\n\ny = x\n"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_package_has_an_api_page(package):
    page = DOCS / "api" / f"{package}.md"
    assert f"::: symreg.{package}" in page.read_text(encoding="utf-8")
