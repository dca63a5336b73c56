"""JAX/flax atomistic models shared by the force-field and coarse-graining tracks: PaiNN and
SchNet-like force fields, neighbour lists and batching, inference and throughput."""
