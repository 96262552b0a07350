"""The documentation's examples run, and its generated parts are up to date.

In docs/*.md, every ``pycon`` block is a doctest and runs; ``python`` blocks run on the
pages in EXECUTED (in order, sharing one namespace per page, after the page's
doctests) and are compiled on the others, whose examples start servers. The
configuration table must match ``httpaf.Config`` (docs/gen_config.py writes it).
"""

from __future__ import annotations

import doctest
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXECUTED = {"state-machine.md", "configuration.md"}
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)

if not DOCS.is_dir():
    pytest.skip("no docs/ next to the tests", allow_module_level=True)

PAGES = sorted(p.name for p in DOCS.glob("*.md"))


def blocks(page: str) -> list[tuple[str, str, int]]:
    """The fenced blocks of ``page``: (language, code, line number of the code)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start(2)) + 1)
        for m in FENCE.finditer(text)
    ]


@pytest.mark.parametrize("page", PAGES)
def test_examples(page: str) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page[:-3].replace('-', '_')}"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for language, code, line in blocks(page):
        where = f"docs/{page}:{line}"
        if language == "pycon":
            test = parser.get_doctest(code, namespace, where, str(DOCS / page), line - 1)
            runner.run(test, out=report.append, clear_globs=False)
            namespace.update(test.globs)  # the DocTest ran on a copy
        elif language == "python":
            compiled = compile(code, where, "exec")
            if page in EXECUTED:
                exec(compiled, namespace)
    assert runner.failures == 0, "".join(report)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config", DOCS / "gen_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_table_is_current() -> None:
    generator = load_generator()
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert generator.render(text) == text, "run: python docs/gen_config.py"


def test_every_config_field_is_documented() -> None:
    import dataclasses

    from httpaf import Config

    comments = load_generator().field_comments()
    missing = [f.name for f in dataclasses.fields(Config) if not comments.get(f.name)]
    assert not missing, f"Config fields without a #: comment: {missing}"


def test_every_page_is_in_the_nav() -> None:
    mkdocs = ROOT / "mkdocs.yml"
    if not mkdocs.is_file():
        pytest.skip("no mkdocs.yml")
    nav = mkdocs.read_text(encoding="utf-8")
    generated = {"changelog.md", "security-policy.md"}  # docs/hooks.py makes them
    listed = set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, re.M))
    assert generated <= listed
    assert sorted(set(PAGES) - listed) == []
    assert sorted(listed - set(PAGES) - generated) == []
