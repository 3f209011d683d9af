from .digits import DigitsDataset  # noqa: F401

__all__ = ["DigitsDataset"]
