from .digits import DigitsDataset
from .stacked_digits import StackedDigitsDataset

__all__ = ['DigitsDataset', 'StackedDigitsDataset']
