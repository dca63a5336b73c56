"""PyTorch Geometric models of the CAN track: GAT classifiers and pooled-MLP students."""
