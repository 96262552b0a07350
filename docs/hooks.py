"""mkdocs hooks: pages made from files outside docs/.

``changelog.md`` is CHANGELOG.md and ``security-policy.md`` is SECURITY.md, from the
repository root, so the site shows them without copies that drift. A missing file gives
a short page saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "changelog.md": "CHANGELOG.md",
    "security-policy.md": "SECURITY.md",
}


def on_files(files: Files, config: Any) -> Files:
    for page, source in PAGES.items():
        path = ROOT / source
        if path.is_file():
            content = path.read_text(encoding="utf-8")
        else:
            content = f"# {source}\n\n`{source}` is not written yet.\n"
        files.append(File.generated(config, page, content=content))
    return files
