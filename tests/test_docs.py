"""The README is a landing page, and what it and the docs point to is
there: linked files, configs and tools."""
import itertools
import re

import pytest

from conftest import ROOT

DOCS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]


def test_the_readme_is_a_landing_page():
    assert len((ROOT / 'README.md').read_text().splitlines()) < 250


def expand_braces(path):
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py``."""
    parts = re.split(r'\{([^}]*)\}', path)
    choices = [[p] if i % 2 == 0 else p.split(',')
               for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.name)
def test_what_the_docs_point_to_is_there(doc):
    text = doc.read_text()
    missing = []
    for link in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
        if not link.startswith('http') and \
                not (doc.parent / link).resolve().exists():
            missing.append(link)
    paths = r'`((?:configs|tools|tests|mmgen_adv)/[\w/{},.-]+\.(?:py|sh))'
    for path in re.findall(paths, text):
        missing += [p for p in expand_braces(path)
                    if not (ROOT / p).is_file()]
    assert not missing, f'{doc.name} points to what is not there: {missing}'
