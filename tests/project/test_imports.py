"""Import hygiene, each checked in a fresh interpreter: `import symreg` loads no Flax (not even
through e3nn-jax) and no JAX, the command line's parser loads no JAX, and importing
`symreg.plot` leaves the matplotlib backend as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter with this checkout first on the path."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    environ = {**os.environ, "PYTHONPATH": path, **env}
    environ.pop("MPLBACKEND", None) if "MPLBACKEND" not in env else None
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=300
    )


def check(code: str, **env: str) -> None:
    done = python(code, **env)
    assert done.returncode == 0, done.stderr


def test_import_symreg_does_not_import_flax():
    check("import symreg, sys; assert 'flax' not in sys.modules")


def test_the_whole_core_api_does_not_import_flax():
    check(
        "import sys, symreg, symreg.plot\n"
        "for name in symreg.__all__: getattr(symreg, name)\n"
        "assert 'flax' not in sys.modules, sorted(m for m in sys.modules if 'flax' in m)\n"
        "assert 'e3nn_jax' not in sys.modules\n"
    )


def test_irreps_import_e3nn_when_used():
    check(
        "import sys\n"
        "from symreg.actions import Irreps\n"
        "assert 'e3nn_jax' not in sys.modules\n"
        "assert Irreps('1o + 0e').irreps.dim == 4 and 'e3nn_jax' in sys.modules\n"
    )


def test_import_symreg_is_lazy_and_complete():
    check(
        "import sys, symreg\n"
        "assert 'jax' not in sys.modules\n"
        "assert set(symreg.__all__) == set(symreg._SUBPACKAGES) | set(symreg._NAMES)\n"
        "assert symreg.Symmetry is symreg.actions.Symmetry\n"
        "assert 'Symmetry' in dir(symreg)\n"
    )


def test_unknown_attribute_raises_attribute_error():
    import symreg

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        symreg.nope  # noqa: B018


def test_the_command_line_parser_imports_no_jax():
    check(
        "import sys\n"
        "from symreg import cli\n"
        "for argv in (['demo'], ['tradeoff'], ['estimate', 'f.npz', '--group', 'SO2',"
        " '--act-in', 'vector']):\n"
        "    cli.build_parser().parse_args(argv)\n"
        "assert 'jax' not in sys.modules, 'jax imported'\n"
    )


@pytest.mark.parametrize("backend", ["svg", "pdf"])
def test_importing_plot_keeps_a_chosen_backend(backend):
    check(
        "import matplotlib\n"
        f"matplotlib.use({backend!r})\n"
        "import symreg.plot\n"
        f"assert matplotlib.get_backend() == {backend!r}, matplotlib.get_backend()\n"
    )


def test_importing_plot_leaves_an_unset_backend_unset():
    check(
        "import matplotlib\n"
        "assert matplotlib.rcParams._get_backend_or_none() is None\n"
        "import symreg.plot\n"
        "assert matplotlib.rcParams._get_backend_or_none() is None\n"
    )


def test_importing_plot_keeps_mplbackend():
    check(
        "import matplotlib, symreg.plot\nassert matplotlib.get_backend() == 'svg'\n",
        MPLBACKEND="svg",
    )


def test_the_core_needs_none_of_the_extras():
    """Without matplotlib, tqdm, scikit-learn and chex (extras only), the core imports and runs."""
    check(
        "import sys\n"
        "for name in ('matplotlib', 'tqdm', 'sklearn', 'chex'):\n"
        "    sys.modules[name] = None  # import fails, as if not installed\n"
        "import jax, jax.numpy as jnp, symreg\n"
        "for name in symreg.__all__: getattr(symreg, name)\n"
        "sym = symreg.Symmetry(symreg.groups.SO3(), '1o')\n"
        "x = jnp.ones((2, 3))\n"
        "err = symreg.equivariance_error(lambda p, x: x, None, x, jax.random.key(0), symmetry=sym,"
        " num_samples=2)\n"
        "assert err.shape == (2, 2)\n"
        "import symreg.flax\n"
    )
