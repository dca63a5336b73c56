"""Electrostatics track: charges (atom-centred and distributed), dipoles, quadrupoles and the
ESP on vdW-surface points; reference data from PySCF, a charge head on the JAX models, and the
baselines it is measured against (reference charges, per-frame fitted point charges)."""
