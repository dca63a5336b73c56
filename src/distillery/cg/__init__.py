"""Coarse-grained priors: mapping, topology, Boltzmann-inversion fits, prior energies in JAX,
delta learning on their residual, and Langevin simulation of the combined model."""
