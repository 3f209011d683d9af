"""What the MMagic host's tools share of MMagic's command line
(``tools/mmagic/train.py``, ``tools/mmagic/test.py``)."""
import os

from mmengine.config import DictAction

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser):
    """``--cfg-options``, ``--launcher`` and ``--local_rank``, as MMagic's
    own tools take them."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, KEY=VALUE')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser, argv=None):
    """Parse; a launcher's ``--local_rank`` reaches mmengine as
    ``LOCAL_RANK``."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args
