"""What the claims are measured with: offline ``digits`` (the bundled
digits, stacks of them, the digit classifier and the stacked-digits scores;
no toolbox, shared by both hosts), their mmgen ``datasets`` and ``metrics``,
``study`` (runs over seeds, side by side, resumable) and ``statistics``
(paired comparisons), ``mmagic_study`` and ``host_comparison`` (the same
study on the MMagic host, and the two hosts side by side), ``evaluation``
(the toolbox's FID/IS, offline-safe), ``labelled_data`` and ``plots`` for
the robustness tools.

Importing it registers the mmgen datasets and metrics where mmgen is
installed; under MMagic (its own environment) only ``digits`` is usable.
"""
import importlib.util

if importlib.util.find_spec('mmgen') is not None:
    from . import datasets, metrics  # noqa: F401 (registers them)
