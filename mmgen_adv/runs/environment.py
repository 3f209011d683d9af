"""The environment report of the tools, safe from mmcv's compiled queries.

The toolbox's ``collect_env()`` (logged at the start of every training run
and stored in its checkpoints) calls mmcv's compiled
``get_compiler_version()`` and ``get_compiling_cuda_version()``. Where the
compiled ops do not match the machine (a compiler / C++ runtime mismatch),
those calls can kill the process with SIGSEGV before the first log line, as
on one GPU host. Here they are answered in a forked child process; if it
crashes, the report says so, a warning names the check to run, and the run
goes on.
"""
import logging
import multiprocessing
import signal


def _ask_compiled_ops(connection):
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    except ImportError:  # no compiled ops: the toolbox reports 'n/a'
        connection.send(('n/a', 'n/a'))
        return
    connection.send((get_compiler_version(), get_compiling_cuda_version()))


def _describe(exitcode, timeout):
    if exitcode is None:
        return f'did not answer in {timeout} s'
    if exitcode < 0:
        try:
            return f'crashed: {signal.Signals(-exitcode).name}'
        except ValueError:
            return f'crashed: signal {-exitcode}'
    return f'failed with exit status {exitcode}'


def compiled_versions(timeout=60):
    """mmcv's compiler and CUDA compiler versions, asked in a forked child.

    Returns:
        tuple[str, str]: mmcv's answers; where the child does not give them,
        twice ``'unavailable (the compiled query crashed: SIGSEGV)'`` (or
        how else it failed), with a warning on the ``mmgen`` logger.
    """
    context = multiprocessing.get_context('fork')  # no re-import: cheap
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_ask_compiled_ops, args=(sender, ), daemon=True)
    child.start()
    sender.close()
    child.join(timeout)  # the answer is small: it waits in the pipe
    if child.exitcode == 0:
        return receiver.recv()
    how = _describe(child.exitcode, timeout)
    if child.exitcode is None:
        child.kill()
        child.join()
    logging.getLogger('mmgen').warning(
        f"mmcv's compiled version query {how} (in a child process, so this "
        "run goes on; its environment report says 'unavailable'). "
        '`python tools/check_build.py ops` diagnoses the build.')
    unavailable = f'unavailable (the compiled query {how})'
    return unavailable, unavailable


def collect_env():
    """The toolbox's ``mmgen.utils.collect_env()``, with mmcv's compiled
    version queries answered by :func:`compiled_versions`."""
    from mmgen.utils import collect_env as toolbox_collect_env
    try:
        import mmcv.ops as ops
    except ImportError:
        return toolbox_collect_env()  # reports 'n/a' itself
    compiler, cuda = compiled_versions()
    queries = ops.get_compiler_version, ops.get_compiling_cuda_version
    # the toolbox imports them from mmcv.ops when called
    ops.get_compiler_version = lambda: compiler
    ops.get_compiling_cuda_version = lambda: cuda
    try:
        return toolbox_collect_env()
    finally:
        ops.get_compiler_version, ops.get_compiling_cuda_version = queries
