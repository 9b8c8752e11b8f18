"""Layer 3: multi-device execution with JAX's own sharding (meshes, batch placement).

The kernels, penalties and train steps need no changes to run on a `jax.sharding.Mesh`: place
the batch with `shard_batch` and the parameters or train state with `replicate`, and jit's
sharding propagation splits the work by example. Under `jax.set_mesh(mesh)`, a mesh axis named
`SAMPLE_AXIS` also splits the group samples S (`make_mesh(data=..., samples=...)`).
"""

from symreg.sharding._mesh import DATA_AXIS, SAMPLE_AXIS, make_mesh
from symreg.sharding._place import replicate, shard_batch

__all__ = ["DATA_AXIS", "SAMPLE_AXIS", "make_mesh", "replicate", "shard_batch"]
