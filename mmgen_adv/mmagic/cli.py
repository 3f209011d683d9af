"""What the MMagic host's tools share of MMagic's command line
(``tools/mmagic/train.py``, ``tools/mmagic/test.py``)."""
import os
import os.path as osp

from mmengine.config import Config, DictAction

from ..errors import UserInputError

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


def load_runner_config(args):
    """The config as MMagic's tools make it: ``--cfg-options`` merged, the
    launcher set, the work dir ``--work-dir``, the config's, or
    ``work_dirs/<config name>``. A config that does not load is refused."""
    try:
        cfg = Config.fromfile(args.config)
    except (OSError, SyntaxError, ValueError) as err:
        raise UserInputError(f'cannot load {args.config}: {err}') from err
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
