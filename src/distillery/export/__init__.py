"""Exported models that run without the training code: StableHLO force fields, TorchScript
and ONNX classifiers."""
