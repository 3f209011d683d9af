"""The toolbox's ``tools/utils/inception_stat.py`` (real-image Inception
statistics for FID, saved as a pkl), run on the pinned stack.

Same arguments as the toolbox's script, e.g.

    python tools/inception_stat.py --data-cfg configs/dat/sngan_cifar10.py \
        --subset train --pklname cifar10.pkl --num-samples 50000 \
        --inception-style stylegan \
        --inception-pth work_dirs/cache/inception-2015-12-05.pt

It needs a GPU (the toolbox's script puts the network on CUDA). With
``--data-cfg``, give a flat config: the one ``tools/train.py`` writes to
the work dir, or any config without ``mmgen::`` bases.
"""
import os.path as osp
import runpy

import mmgen_adv  # noqa: F401  (makes mmgen importable first)
import mmgen


if __name__ == '__main__':
    script = osp.join(
        osp.dirname(mmgen.__file__), '.mim', 'tools', 'utils',
        'inception_stat.py')
    runpy.run_path(script, run_name='__main__')
