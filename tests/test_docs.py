"""The API reference builds with pdoc (Google docstrings) without a single pdoc warning.

This file also holds the builder `make docs` runs (`python tests/test_docs.py docs/api scantalk
emotion`), so the test checks exactly what users get.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _module_names(package: str) -> list[str]:
    """`package` and every module below it, whatever its `__all__` says (pdoc would follow it)."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, f"{package}.",
                                      onerror=lambda name: warnings.warn(f"pdoc: cannot import {name}")):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # importing a __main__ runs a program
            names.append(info.name)
    return names


def _resolve_lazy_exports(name: str) -> None:
    # pdoc reads `__all__` names from the module's dict; names served by a PEP 562 `__getattr__`
    # (kept lazy so `import scantalk` stays light) are only there once looked up.
    module = importlib.import_module(name)
    for export in getattr(module, "__all__", ()):
        if export not in vars(module):
            setattr(module, export, getattr(module, export))


def build_api_docs(packages: list[str], output_directory: str | Path) -> list[str]:
    """Write the HTML API reference of `packages` into `output_directory` (replaced atomically).

    Args:
        packages: importable package names, e.g. ["scantalk", "emotion"].
        output_directory: the folder to (re)create; only a folder this builder wrote before
            is replaced.

    Returns:
        The warnings pdoc emitted, one string each (empty when the docs are clean).
    """
    import pdoc.doc
    import pdoc.render

    from scantalk.atomic import staged_output_dir

    pdoc.render.configure(docformat="google")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [name for package in packages for name in _module_names(package)]
        for name in names:
            _resolve_lazy_exports(name)
        modules = {name: pdoc.doc.Module.from_name(name) for name in names}
        previous = lambda path: (path / "index.html").is_file() and (path / "search.js").is_file()  # noqa: E731
        with staged_output_dir(output_directory, overwrite=True, is_previous_output=previous, what="docs folder") as out:
            for module in modules.values():
                page = out / f"{module.fullname.replace('.', '/')}.html"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(pdoc.render.html_module(module, modules), encoding="utf-8")
            (out / "index.html").write_text(pdoc.render.html_index(modules) or "", encoding="utf-8")
            (out / "search.js").write_text(pdoc.render.search_index(modules), encoding="utf-8")
    # Only pdoc's own complaints: libraries imported along the way warn about their own things.
    return [str(item.message) for item in caught
            if "pdoc" in Path(item.filename).parts or str(item.message).startswith("pdoc:")]


@pytest.mark.slow
def test_scantalk_api_reference_builds_without_warnings(tmp_path):
    # A fresh process: pdoc imports every module, which must not leak into the other tests.
    out = tmp_path / "api"
    result = subprocess.run([sys.executable, __file__, str(out), "scantalk"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    pages = {path.relative_to(out).as_posix() for path in out.rglob("*.html")}
    # Every module gets a page, including those a package's `__all__` does not list.
    expected = {name.replace(".", "/") + ".html" for name in ("scantalk", "scantalk.geometry.operators",
                                                              "scantalk.training.cli", "scantalk.model.config")}
    assert expected <= pages, sorted(expected - pages)
    # Google sections (Args / Returns) are rendered as headed sections.
    operators = (out / "scantalk/geometry/operators.html").read_text()
    assert "compute_operators" in operators
    assert '<h6 id="arguments">' in operators and '<h6 id="returns">' in operators
    assert "Animator" in (out / "scantalk.html").read_text()


def main(argv: list[str]) -> int:
    """`python tests/test_docs.py OUT_DIR PACKAGE...`: build the docs; exit 1 on any pdoc warning."""
    if len(argv) < 2:
        print("usage: python tests/test_docs.py OUT_DIR PACKAGE...", file=sys.stderr)
        return 2
    problems = build_api_docs(argv[1:], argv[0])
    for problem in problems:
        print(f"pdoc warning: {problem}", file=sys.stderr)
    print(f"API reference written to {Path(argv[0]).resolve()}/index.html ({len(problems)} warnings)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
