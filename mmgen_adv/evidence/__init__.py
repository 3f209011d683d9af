"""What the claims are measured with: offline ``datasets`` (bundled digits,
stacked digits) and ``metrics`` (modes, KL, classifier FD), ``study`` (runs
over seeds, side by side, resumable) and ``statistics`` (paired
comparisons), ``evaluation`` (the toolbox's FID/IS, offline-safe),
``labelled_data`` and ``plots`` for the robustness tools."""
from . import datasets, metrics  # noqa: F401 (registers them)
