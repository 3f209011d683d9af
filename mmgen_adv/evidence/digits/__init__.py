"""Stacked digits without a toolbox: the bundled digits (``images``), stacks
of three of them (``stacks``), the digit classifier that reads them back
(``classifier``) and the scores over generated stacks (``scores``).

Both hosts' datasets and metrics wrap these (mmgen's in
``evidence.datasets``/``evidence.metrics``, MMagic's in
``mmgen_adv.mmagic.stacked_digits``), so the two read the same images and
compute the same numbers. Nothing here imports mmcv, mmgen or MMagic.
"""
