"""Which config keys a registered class accepts: the parameters of its
``__init__``, following ``**kwargs`` up the class hierarchy where they are
passed to ``super().__init__``.

Shared by the config-key validation (a key the class does not take is a
typo) and the dataset pre-flight checks (only the path keys a dataset class
really takes are checked).
"""
import ast
import functools
import inspect
import textwrap
from dataclasses import dataclass

import torch.nn as nn

# classes whose __init__ takes no config keys although it has **kwargs
_CLOSED_BASES = (object, nn.Module)


@dataclass(frozen=True)
class Accepted:
    """The keyword arguments a class accepts.

    Attributes:
        names (frozenset): Named parameters, the class's and its bases'.
        open_ended (bool): Some ``**kwargs`` go where they cannot be traced,
            so any other key may be accepted too.
        required (frozenset): The names without a default.
    """
    names: frozenset
    open_ended: bool
    required: frozenset = frozenset()

    def __contains__(self, key):
        return key in self.names


def _forwards_kwargs_to_super(init, var_keyword):
    """Whether ``init`` calls ``super().__init__(..., **<var_keyword>)``."""
    try:
        source = textwrap.dedent(inspect.getsource(init))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == '__init__'):
            continue
        owner = node.func.value
        is_super = (isinstance(owner, ast.Call)
                    and isinstance(owner.func, ast.Name)
                    and owner.func.id == 'super')
        if is_super and any(
                kw.arg is None and isinstance(kw.value, ast.Name)
                and kw.value.id == var_keyword for kw in node.keywords):
            return True
    return False


@functools.lru_cache(maxsize=None)
def accepted_arguments(cls, forwarded_to=None):
    """The keyword arguments ``cls(**cfg)`` accepts.

    Args:
        cls (type): A registered class.
        forwarded_to (callable, optional): Where the class sends its
            ``**kwargs`` when that is not ``super().__init__`` (mmcv's
            ``CheckpointHook`` passes them to ``runner.save_checkpoint``).
    """
    names, required = set(), set()

    def result(open_ended, more=frozenset()):
        return Accepted(frozenset(names | more), open_ended,
                        frozenset(required))

    for klass in cls.__mro__:
        if klass in _CLOSED_BASES:
            return result(False)
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return result(True)
        named = [
            p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                            p.KEYWORD_ONLY)
            and p.name != 'self'
        ]
        names |= {p.name for p in named}
        required |= {p.name for p in named if p.default is p.empty}
        var_keyword = next(
            (p.name for p in params if p.kind == p.VAR_KEYWORD), None)
        if var_keyword is None:
            return result(False)
        if forwarded_to is not None:
            more = accepted_callable(forwarded_to)
            return result(more.open_ended, more.names)
        if not _forwards_kwargs_to_super(init, var_keyword):
            return result(True)
    return result(False)


def accepted_callable(fn):
    """The keyword arguments of a function or method."""
    params = inspect.signature(fn).parameters.values()
    return Accepted(
        frozenset(p.name for p in params
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name != 'self'),
        any(p.kind == p.VAR_KEYWORD for p in params))
