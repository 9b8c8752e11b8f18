"""The notebooks run headless, top to bottom, in a fresh kernel of this interpreter; and they are
committed without outputs.

Each notebook is executed with nbclient in a new IPython kernel started from `sys.executable`
(not whatever "python3" kernelspec happens to be installed), with the notebooks folder as the
working directory, so the test exercises the code of this checkout in this environment.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from traitlets import default  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["01_quickstart", "02_data_symmetry", "03_tuning", "04_e3nn", "05_relaxed_layers"]
#: Seconds any one cell may run before the execution fails (the whole budget is ~150 s).
CELL_TIMEOUT = 240


class ThisInterpreter(KernelSpecManager):
    """Resolves every kernel name to an IPython kernel of the running interpreter."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=f"Python ({sys.executable})",
            language="python",
            name=kernel_name,
        )


class ThisInterpreterKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run `sys.executable` (nbclient owns and shuts it down)."""

    @default("kernel_spec_manager")
    def _this_interpreter(self) -> KernelSpecManager:
        return ThisInterpreter()


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children, e.g. a shut-down kernel."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_every_notebook_is_listed_and_indexed():
    on_disk = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert on_disk == NAMES
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"{name}.ipynb" in index, f"notebooks/README.md does not list {name}.ipynb"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name):
    nb = read(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} have outputs or execution counts; strip them"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_headless(name):
    nb = read(name)
    client = nbclient.NotebookClient(
        nb,
        kernel_manager_class=ThisInterpreterKernelManager,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start, cpu = time.perf_counter(), _children_cpu()
    client.execute()  # raises CellExecutionError with the cell and traceback on any error
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    print(f"{name}: executed in {wall:.1f} s (kernel CPU {cpu:.1f} s)")
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    assert any(c.outputs for c in nb.cells if c.cell_type == "code"), f"{name} produced no output"
