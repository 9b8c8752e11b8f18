"""A device mesh for symreg: a data axis for the batch, optionally a samples axis for S."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from jax.sharding import AxisType, Mesh

from symreg import _validation
from symreg._axes import DATA_AXIS, SAMPLE_AXIS

__all__ = ["DATA_AXIS", "SAMPLE_AXIS", "make_mesh"]


def make_mesh(
    data: int | None = None,
    samples: int = 1,
    *,
    devices: Sequence[Any] | None = None,
) -> Mesh:
    """A mesh of `data` × `samples` devices with Auto axes ("data",) or ("data", "samples").

    Auto axes leave the layout of intermediate values to jit's sharding propagation (jax's
    `jax.make_mesh` defaults to Explicit axes, under which the kernels' internal reshapes would
    need explicit reshards). The batch B goes on "data" (`shard_batch`); the group samples S go
    on "samples" when the computation is traced under `jax.set_mesh(mesh)` and the size of
    "samples" divides S; otherwise "samples" only replicates the work.

    Args:
      data: the size of the "data" axis; None for all `devices` not used by `samples`.
      samples: the size of the "samples" axis; 1 (default) makes a 1-D mesh ("data",).
      devices: the devices to use, `jax.devices()` (all processes' devices) by default; the
        first data·samples of them are used.

    Returns:
      A `jax.sharding.Mesh` with axis types Auto.

    Raises:
      TypeError: `data` or `samples` is not an int.
      ValueError: a size < 1, or data·samples larger than the number of devices (or not
        dividing it when `data` is None).

    Examples:
      >>> from jax.sharding import AxisType
      >>> from symreg.sharding import make_mesh
      >>> mesh = make_mesh()          # every device on the data axis
      >>> mesh.axis_names, mesh.axis_types == (AxisType.Auto,)
      (('data',), True)
    """
    devices = list(jax.devices() if devices is None else devices)
    samples = _validation.positive_int(samples, "samples")
    if data is None:
        if len(devices) % samples:
            raise ValueError(f"samples = {samples} must divide the {len(devices)} devices")
        data = len(devices) // samples
    data = _validation.positive_int(data, "data")
    if data * samples > len(devices):
        raise ValueError(
            f"data × samples = {data} × {samples} needs {data * samples} devices, "
            f"but only {len(devices)} are given"
        )
    shape, names = (
        ((data,), (DATA_AXIS,)) if samples == 1 else ((data, samples), (DATA_AXIS, SAMPLE_AXIS))
    )
    return jax.make_mesh(
        shape, names, axis_types=(AxisType.Auto,) * len(shape), devices=devices[: data * samples]
    )
