"""distillery: from raw scientific data to validated, distilled ML models."""

__version__ = "0.1.0"
