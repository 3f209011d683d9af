"""Command-line conventions shared by ``tools/``: the toolbox's arguments,
plus one-line errors for input a user can fix."""
import functools
import os
import sys

from .errors import UserInputError
from .dist import LAUNCHERS


def add_launcher_args(parser):
    """``--launcher`` and the local rank, spelled as any launcher passes it.

    ``torch.distributed.launch`` passes ``--local-rank=N`` since PyTorch 2.0,
    the toolbox's tools only accept ``--local_rank``; torchrun sets
    ``LOCAL_RANK`` instead. All three work.
    """
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument(
        '--local_rank', '--local-rank', dest='local_rank', type=int, default=0)
    return parser


def finish_launcher_args(args):
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def one_line_errors(main):
    """Run ``main``; input errors end it with one line and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserInputError as err:
            print(f'error: {err}', file=sys.stderr)
            sys.exit(2)

    return wrapper


def load_model_checkpoint(model, path):
    """Load ``path`` into ``model`` strictly: a checkpoint of another model
    (no class head, other channels) is refused, not half loaded."""
    from mmcv.runner import load_checkpoint
    try:
        load_checkpoint(model, path, map_location='cpu', strict=True)
    except RuntimeError as err:
        detail = str(err).strip().splitlines()
        raise UserInputError(
            f"checkpoint '{path}' does not fit the config's model: "
            f"{' '.join(line.strip() for line in detail[:3])}") from None
