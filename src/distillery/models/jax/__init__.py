"""JAX/flax force fields: PaiNN teacher, SchNet-like student, neighbour lists and batching."""
