"""A process that dies while orbax saves a checkpoint; run by tests/flax/test_checkpoint.py.

    python tests/flax/checkpoint_worker.py DIRECTORY

It saves step 1 of a `SymmetryTrainState` (a 16 MB parameter, a dual-ascent tuner state and
a PRNG key) with an orbax `CheckpointManager` and waits for it, prints "SAVED 1", then starts
saving step 2 with orbax's commit (the atomic rename of the temporary directory) stubbed to
stall: once the data of step 2 is written, it prints "WRITTEN 2" and sleeps. The test kills it
with SIGKILL then, in the middle of the save, and checks that step 1 still restores exactly.
"""

from __future__ import annotations

import asyncio
import sys

import jax
import jax.numpy as jnp
import optax

from symreg.flax import SymmetryTrainState
from symreg.tuning import dual_ascent

#: Entries of the large parameter: 4M float32 = 16 MB, so the save writes real data.
BIG = 2**22


def apply(variables, x):
    return x @ variables["params"]["w"] + variables["params"]["big"][:1]


def make_state(step: int) -> SymmetryTrainState:
    """The state saved at `step` (a pure function of it)."""
    params = {"w": jnp.full((3,), float(step)), "big": jnp.arange(BIG, dtype=jnp.float32) + step}
    state = SymmetryTrainState.create(
        apply_fn=apply,
        params=params,
        tx=optax.sgd(0.1),
        tuner=dual_ascent(0.5, step_size=1.0, max_weight=10.0),
        key=jax.random.key(7),
    )
    tuner_state = state.tuner_state._replace(weight=jnp.float32(0.25 * step), count=jnp.int32(step))
    return state.replace(
        step=step, tuner_state=tuner_state, key=jax.random.fold_in(state.key, step)
    )


def stall_commits() -> None:
    """Replaces orbax's atomic-rename commit with a report and a long sleep."""
    from orbax.checkpoint._src.path import atomicity

    async def stalled_finalize(self, *args, **kwargs):
        print("WRITTEN 2", flush=True)
        await asyncio.sleep(600)

    atomicity.AtomicRenameTemporaryPath.finalize = stalled_finalize


def main(directory: str) -> None:
    import orbax.checkpoint as ocp

    manager = ocp.CheckpointManager(directory)
    manager.save(1, args=ocp.args.StandardSave(make_state(1)))
    manager.wait_until_finished()
    print("SAVED 1", flush=True)
    stall_commits()
    manager.save(2, args=ocp.args.StandardSave(make_state(2)))
    manager.wait_until_finished()  # never returns: the commit stalls until the kill
    print("COMMITTED 2", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
