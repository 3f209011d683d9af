from ..digits.classifier import DigitNet, load_classifier
from ..digits.scores import mode_statistics
from .stacked_digits import StackedDigits

__all__ = ['DigitNet', 'StackedDigits', 'load_classifier', 'mode_statistics']
