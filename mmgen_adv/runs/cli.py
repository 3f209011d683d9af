"""Command-line conventions shared by ``tools/``: the toolbox's arguments,
plus one-line errors for input a user can fix."""
import functools
import os
import sys

from mmcv import DictAction

from ..errors import EXIT_INPUT_ERROR, UserInputError
from .dist import LAUNCHERS

# tools/dist_train.sh names a file here: the launcher's own exit status is
# 1 whatever a rank's was, so rank 0 leaves its status for the script
STATUS_FILE_ENV = 'MMGEN_ADV_STATUS_FILE'


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


def add_config_args(parser, loaded='the checkpoint'):
    """``--cfg-options`` (as the toolbox's tools) and ``--partial-load``
    (what may be loaded of ``loaded``)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs; '
        '+key=value adds a key the config does not have')
    parser.add_argument(
        '--partial-load',
        action='store_true',
        help=f'{loaded}: load only the tensors whose name and shape fit the '
        'model, naming the others (default: refuse a checkpoint that does '
        'not fit)')
    return parser


def finish_launcher_args(args):
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def record_exit_status(status):
    """Leave ``status`` where ``tools/dist_train.sh`` reads it (rank 0)."""
    path = os.environ.get(STATUS_FILE_ENV)
    if path and os.environ.get('RANK', '0') == '0':
        with open(path, 'w') as f:
            f.write(f'{status}\n')


def exit_with(status, message, prefix='error'):
    """End the tool: ``<prefix>: message`` on stderr and ``status``."""
    print(f'{prefix}: {message}', file=sys.stderr, flush=True)
    record_exit_status(status)
    sys.exit(status)


def one_line_errors(main):
    """Run ``main``; input errors end it with one line and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserInputError as err:
            exit_with(EXIT_INPUT_ERROR, err)

    return wrapper
