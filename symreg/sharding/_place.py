"""Placing a batch (split by example) and parameters (replicated) on a mesh."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from symreg.sharding._mesh import DATA_AXIS


def _check_mesh(mesh: Any) -> Mesh:
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    return mesh


def _axis_size(mesh: Mesh, axis: str | tuple[str, ...]) -> int:
    names = (axis,) if isinstance(axis, str) else tuple(axis)
    missing = [a for a in names if a not in mesh.axis_names]
    if not names or missing:
        raise ValueError(f"axis must name axes of the mesh {mesh.axis_names}, got {axis!r}")
    return math.prod(mesh.shape[a] for a in names)


def shard_batch(x: Any, mesh: Mesh, axis: str | tuple[str, ...] = DATA_AXIS) -> Any:
    """Places a batch on `mesh`, its leading axis B split over `axis`, replicated elsewhere.

    Every leaf of x becomes a global `jax.Array` with `NamedSharding(mesh, P(axis))`: device
    d along `axis` holds examples [d·B/n, (d+1)·B/n), n the size of `axis`. Since symreg lays
    the (example, sample) pairs out example-major, every kernel then works on its devices'
    own examples and communicates only in final reductions. With several processes
    (`jax.distributed.initialize`), x is this process's part of the batch and the global
    batch is assembled with `jax.make_array_from_process_local_data`.

    Args:
      x: an array or pytree of arrays with leading batch axis (B, or this process's part).
      mesh: the `jax.sharding.Mesh`, e.g. from `make_mesh`.
      axis: the mesh axis (or tuple of axes) that splits B; "data" by default.

    Returns:
      x as global arrays sharded along their leading axis.

    Raises:
      TypeError: `mesh` is not a Mesh.
      ValueError: `axis` is not an axis of the mesh, a leaf is a scalar, or (one process)
        B is not a multiple of the size of `axis`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jax.sharding import PartitionSpec as P
      >>> from symreg.sharding import make_mesh, shard_batch
      >>> xs = shard_batch(jnp.ones((8, 3)), make_mesh())
      >>> xs.shape, xs.sharding.spec == P("data")
      ((8, 3), True)
    """
    n = _axis_size(_check_mesh(mesh), axis)
    sharding = NamedSharding(mesh, PartitionSpec(axis))

    def place(a):
        if jax.numpy.ndim(a) == 0:
            raise ValueError("shard_batch needs a leading batch axis, got a scalar leaf")
        if not mesh.is_multi_process:
            if a.shape[0] % n:
                raise ValueError(
                    f"the batch size B = {a.shape[0]} must be a multiple of the {n} devices "
                    f"of mesh axis {axis!r}"
                )
            return jax.device_put(a, sharding)
        return jax.make_array_from_process_local_data(sharding, a)

    return jax.tree.map(place, x)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places a pytree (parameters, a train state) on every device of `mesh`, unsplit.

    Data-parallel training keeps one full copy per device: `NamedSharding(mesh, P())` on every
    leaf. A jitted step on replicated parameters and a sharded batch returns replicated
    parameters (the gradient is all-reduced over the batch axes). With several processes,
    every process must pass the same values; they are placed with
    `jax.make_array_from_process_local_data` (not `jax.device_put`, whose cross-process
    equality check fails on NaN leaves such as an unset target). Static fields are unchanged.

    Args:
      tree: a pytree of arrays (params, optimizer state, a `SymmetryTrainState`).
      mesh: the `jax.sharding.Mesh`.

    Returns:
      The same pytree, every array replicated over the mesh.

    Raises:
      TypeError: `mesh` is not a Mesh.

    Examples:
      >>> import jax.numpy as jnp
      >>> from symreg.sharding import make_mesh, replicate
      >>> params = replicate({"w": jnp.ones(3)}, make_mesh())
      >>> params["w"].sharding.is_fully_replicated
      True
    """
    sharding = NamedSharding(_check_mesh(mesh), PartitionSpec())
    if not mesh.is_multi_process:
        return jax.device_put(tree, sharding)
    return jax.tree.map(lambda a: _replicate_across_processes(a, sharding), tree)


def _replicate_across_processes(a: Any, sharding: NamedSharding) -> jax.Array:
    """One leaf, the same on every process, as a global array replicated on `sharding`."""
    if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        data = _replicate_across_processes(jax.random.key_data(a), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
    a = np.asarray(a)
    return jax.make_array_from_process_local_data(sharding, a, a.shape)
