"""Test helper (a config's custom import): mmcv's compiled compiler-version
query crashes the process with SIGSEGV, as it did on one GPU host."""
import ctypes

import mmcv.ops


def get_compiler_version():
    return ctypes.string_at(0)  # reads address 0: SIGSEGV


mmcv.ops.get_compiler_version = get_compiler_version
