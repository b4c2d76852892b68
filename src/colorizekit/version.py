"""colorizekit's version: one constant, imported by whatever writes it into a file (weights, reports)."""

__version__ = "0.1.0"
