"""Exported force fields that run without the training code (StableHLO + params.npz)."""
