"""Checks the API reference that pdoc built (see .ci/docs): every link inside it lands on a page
and an anchor that exist, and every ``fastnn.*`` name a docstring mentions exists.

    python .ci/check_docs.py DOCS_DIR
"""

from __future__ import annotations

import html.parser
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

from fastnn.testing import public_modules


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: List[str] = []
        self.ids: Set[str] = set()

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key == "href" and value:
                self.hrefs.append(value)
            elif key == "id" and value:
                self.ids.add(value)


def broken_links(root: Path) -> List[str]:
    pages: Dict[Path, _Links] = {}
    for page in root.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.resolve()] = parser
    if not pages:
        return [f"no HTML pages under {root}"]
    broken = []
    for page, links in pages.items():
        for href in links.hrefs:
            if re.match(r"^[a-z]+:", href):  # http:, https:, mailto:, data: - not ours
                continue
            target, _, anchor = href.partition("#")
            dest = (page.parent / target).resolve() if target else page
            if dest.is_dir():
                dest = dest / "index.html"
            if dest.suffix != ".html":
                if not dest.exists():
                    broken.append(f"{page.relative_to(root.resolve())}: {href} (no such file)")
                continue
            if dest not in pages:
                broken.append(f"{page.relative_to(root.resolve())}: {href} (no such page)")
            elif anchor and anchor not in pages[dest].ids:
                broken.append(f"{page.relative_to(root.resolve())}: {href} (no such anchor)")
    return broken


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


def broken_names() -> List[str]:
    """``fastnn.x.y`` (and ``ops.x``, ``losses.x``, ... short forms) written in docstrings."""
    pattern = re.compile(r"``?((?:fastnn|ops|losses|layers|models|optimizers|metrics|callbacks)"
                         r"(?:\.[A-Za-z_]\w*)+)")
    broken, seen = [], set()
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        objects = [module] + [getattr(module, n) for n in getattr(module, "__all__", [])]
        for obj in list(objects):
            if inspect.isclass(obj):
                objects += [v for k, v in vars(obj).items() if not k.startswith("__")]
        for obj in objects:
            doc = inspect.getdoc(obj) or ""
            for name in pattern.findall(doc):
                full = name if name.startswith("fastnn.") else "fastnn." + name
                if full not in seen and not _resolves(full):
                    seen.add(full)
                    broken.append(f"{module_name}: a docstring names {name!r}, which does not "
                                  f"exist")
    return broken


def main() -> int:
    root = Path(sys.argv[1])
    problems = broken_links(root) + broken_names()
    for p in problems:
        print("broken reference:", p)
    pages = len(list(root.rglob("*.html")))
    print(f"{pages} pages checked, {len(problems)} broken reference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
