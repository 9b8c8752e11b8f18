"""MkDocs hook: the notebooks in notebooks/ become pages of the site, under "Notebooks".

The notebooks live outside docs/ (they are run from notebooks/ and committed without outputs),
so this hook adds notebooks/*.ipynb to the site's files as notebooks/NAME.ipynb, with
notebooks/README.md (the table of the notebooks) as the section's index page. The mkdocs-jupyter
plugin then renders each notebook to HTML; it runs them first only when its `execute` option is
on (`SYMREG_DOCS_EXECUTE=true`, which `make docs` sets), so the strict build in `make test` only
converts them.

When it runs them, every kernel is an IPython kernel of the interpreter running mkdocs (as in
tests/project/test_notebooks.py), not whatever "python3" kernelspec the user's Jupyter paths hold: the
hook puts a kernelspec of `sys.executable` first on JUPYTER_PATH for the build.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOKS = ROOT / "notebooks"
_kernels: tempfile.TemporaryDirectory | None = None


def notebook_files(config) -> list[File]:
    """The site files this hook adds: the index page and one per notebook, in name order."""
    sources = [NOTEBOOKS / "README.md", *sorted(NOTEBOOKS.glob("*.ipynb"))]
    # Real files with the repository root as their source folder (not File.generated: the
    # wrapper mkdocs-jupyter puts around a notebook would lose a generated file's source path).
    return [
        File(
            path.relative_to(ROOT).as_posix(),
            src_dir=str(ROOT),
            dest_dir=config.site_dir,
            use_directory_urls=config.use_directory_urls,
        )
        for path in sources
    ]


def _executes(config) -> bool:
    plugin = config.plugins.get("mkdocs-jupyter")
    return bool(plugin and plugin.config["execute"])


def on_config(config):
    global _kernels
    if not _executes(config) or _kernels is not None:
        return config
    _kernels = tempfile.TemporaryDirectory(prefix="symreg-docs-kernels-")
    spec = Path(_kernels.name) / "kernels" / "python3"
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    paths = [_kernels.name, os.environ.get("JUPYTER_PATH", "")]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in paths if p)
    return config


# Before mkdocs-jupyter's on_files (priority 0), which wraps the .ipynb files as pages.
@event_priority(100)
def on_files(files: Files, config) -> Files:
    for file in notebook_files(config):
        files.append(file)
    return files
