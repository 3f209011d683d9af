"""The run's text log, held back until every pre-flight check has passed.

The tools log from the start (what is being checked and built), but a run
that is refused must leave nothing in its work dir. Records go to the
terminal at once and are kept in memory; :func:`write_log_file` writes them
to the log file and sends every later record there too.
"""
import logging

from mmcv.runner import get_dist_info
from mmgen.utils import get_root_logger

# mmcv's get_logger format for its file handler
FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


class DeferredFileHandler(logging.Handler):
    """Keeps records until :meth:`open`, then writes them and every later
    one to the file."""

    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.setFormatter(logging.Formatter(FORMAT))
        self._pending = []
        self._file = None

    def emit(self, record):
        if self._file is None:
            self._pending.append(record)
        else:
            self._file.emit(record)

    def open(self, path):
        self._file = logging.FileHandler(path, 'w')
        self._file.setFormatter(self.formatter)
        for record in self._pending:
            self._file.emit(record)
        self._pending = []

    def close(self):
        if self._file is not None:
            self._file.close()
        super().close()


def start_run_log(log_level='INFO'):
    """The toolbox's root logger, printing now, with a held-back file
    (rank 0 only, as mmcv's loggers)."""
    logger = get_root_logger(log_level=log_level)
    for handler in [h for h in logger.handlers
                    if isinstance(h, DeferredFileHandler)]:
        logger.removeHandler(handler)  # an earlier run in this process
        handler.close()
    if get_dist_info()[0] == 0:
        logger.addHandler(DeferredFileHandler(logger.level))
    return logger


def write_log_file(logger, path):
    """Start writing ``logger``'s records (the held-back ones first) to
    ``path``; nothing happens on ranks other than 0."""
    for handler in logger.handlers:
        if isinstance(handler, DeferredFileHandler):
            handler.open(path)
