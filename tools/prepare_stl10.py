"""Write STL-10's images as PNG files, for the toolbox's image-folder
datasets (``UnconditionalImageDataset``), offline.

    python tools/prepare_stl10.py data/stl10/stl10_binary/unlabeled_X.bin \
        data/stl10/unlabeled

Reads STL-10's binary format (uint8, 3x96x96 per image, column-major, as
distributed in ``stl10_binary.tar.gz``) and writes ``00000000.png``, ...;
``configs/dat/ssgan_stl10_48.py`` resizes them to 48x48 when loading.
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np

from mmgen_adv.errors import UserInputError
from mmgen_adv.runs.cli import one_line_errors

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE


def read_stl10(path, limit=None):
    """``(N, 96, 96, 3)`` RGB uint8 images of an STL-10 ``*_X.bin`` file."""
    size = osp.getsize(path)
    if size == 0 or size % IMAGE_BYTES:
        raise UserInputError(
            f"'{path}' is not an STL-10 image file ({size} bytes is not a "
            f'multiple of {IMAGE_BYTES})')
    count = size // IMAGE_BYTES if limit is None else min(
        limit, size // IMAGE_BYTES)
    data = np.fromfile(path, dtype=np.uint8, count=count * IMAGE_BYTES)
    # stored channel-major and column-major: (N, C, W, H)
    return data.reshape(count, 3, SIDE, SIDE).transpose(0, 3, 2, 1)


@one_line_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('binary', help='e.g. stl10_binary/unlabeled_X.bin')
    parser.add_argument('out_dir')
    parser.add_argument('--limit', type=int, help='first N images only')
    args = parser.parse_args(argv)
    if not osp.isfile(args.binary):
        raise UserInputError(f"'{args.binary}' does not exist")
    images = read_stl10(args.binary, args.limit)
    os.makedirs(args.out_dir, exist_ok=True)
    for i, rgb in enumerate(images):
        cv2.imwrite(osp.join(args.out_dir, f'{i:08d}.png'), rgb[:, :, ::-1])
    print(f'wrote {len(images)} images to {args.out_dir}')


if __name__ == '__main__':
    main()
