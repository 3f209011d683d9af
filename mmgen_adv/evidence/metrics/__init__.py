from .digit_classifier import DigitNet, load_classifier
from .stacked_digits import StackedDigits, mode_statistics

__all__ = ['DigitNet', 'StackedDigits', 'load_classifier', 'mode_statistics']
