"""The documentation site: the code in docs/index.md and docs/concepts.md runs as written (each
page's ```python blocks in order, in one fresh interpreter), every public package has an
API page, and every notebook is a page of the site (checked on the loaded configuration, without a
build). `mkdocs build --strict` itself runs in `make test` and `make docs`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: The pages whose examples must run (pages by others may hold illustrative snippets).
RUNNABLE = ("index.md", "concepts.md")
#: Seconds one page's examples may take.
TIMEOUT = 300
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PACKAGES = (
    "actions",
    "debug",
    "equivariance",
    "estimators",
    "experiments",
    "flax",
    "groups",
    "nn",
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


def _site_files(monkeypatch, execute: str):
    """The site's configuration (mkdocs.yml with its plugins and hooks) and its files after the
    plugins' on_files, without building anything."""
    from mkdocs.commands.build import get_files
    from mkdocs.config import load_config

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SYMREG_DOCS_EXECUTE", execute)
    # The hook puts its kernelspec first on JUPYTER_PATH when executing; undone after the test.
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    config = load_config(str(ROOT / "mkdocs.yml"))
    config.plugins.on_startup(command="build", dirty=False)
    config = config.plugins.on_config(config)
    files = config.plugins.on_files(get_files(config), config=config)
    return config, files


def test_every_notebook_is_a_page_of_the_site(monkeypatch):
    config, files = _site_files(monkeypatch, "false")
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks/*.ipynb"
    for name in notebooks:
        file = files.get_file_from_path(f"notebooks/{name}")
        assert file is not None, f"notebooks/{name} is not in the docs site"
        assert file.is_documentation_page(), f"notebooks/{name} is not rendered as a page"
        assert file.dest_uri == f"notebooks/{name.removesuffix('.ipynb')}/index.html"
    index = files.get_file_from_path("notebooks/README.md")
    assert index is not None and index.dest_uri == "notebooks/index.html"
    # The strict build of `make test` converts the notebooks without running them.
    jupyter = config.plugins["mkdocs-jupyter"].config
    assert jupyter["execute"] is False
    assert jupyter["allow_errors"] is False


def test_make_docs_runs_the_notebooks_in_this_interpreter(monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    config, _ = _site_files(monkeypatch, "true")
    assert config.plugins["mkdocs-jupyter"].config["execute"] is True
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    docs = make[make.index("\ndocs:") :].split("\n\n")[0]
    assert "SYMREG_DOCS_EXECUTE=true" in docs
