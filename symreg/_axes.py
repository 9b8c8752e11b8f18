"""Names of the mesh axes shared by the kernels and `symreg.sharding` (ground floor, private).

See docs/architecture.md, "Layers": shared private machinery lives in `symreg/_*.py`.
"""

#: The mesh axis that splits the batch (examples).
DATA_AXIS = "data"
#: The mesh axis that splits the S group samples of a kernel.
SAMPLE_AXIS = "samples"
