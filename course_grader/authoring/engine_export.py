"""Turn a milestone's exported solution cells into a plain Python module.

A later milestone needs the earlier ones' answers (milestone 3 needs a Value with
``backward``). They have one source of truth, the solution cells in ``solutions/``;
cells tagged ``export`` are assembled here into a readable module, with every
``@attach(Value)`` method moved back into its class body, solution markers removed and
imports nothing uses dropped.
"""

import ast
import textwrap
from collections.abc import Iterable
from pathlib import Path

import nbformat

from course_grader.cells import without_markers

EXPORT_TAG = "export"


def exported_sources(notebook: Path) -> list[str]:
    """The source of every code cell tagged ``export``, solution markers removed."""
    nb = nbformat.read(notebook, as_version=4)
    out = []
    for cell in nb.cells:
        if cell.cell_type == "code" and EXPORT_TAG in cell.get("metadata", {}).get("tags", []):
            out.append(without_markers(cell.source))
    return out


def _attach_target(fn: ast.FunctionDef) -> str | None:
    for dec in fn.decorator_list:
        if (
            isinstance(dec, ast.Call)
            and isinstance(dec.func, ast.Name)
            and dec.func.id == "attach"
            and len(dec.args) == 1
            and isinstance(dec.args[0], ast.Name)
        ):
            return dec.args[0].id
    return None


def _segment(source: str, node: ast.stmt, skip_decorators: bool = False) -> str:
    lines = source.splitlines()
    decorators = [] if skip_decorators else [d.lineno for d in getattr(node, "decorator_list", [])]
    start = min([node.lineno, *decorators])
    return "\n".join(lines[start - 1 : node.end_lineno])


def assemble(sources: Iterable[str], docstring: str) -> str:
    """One module from cell sources: classes with their attached methods, then the rest."""
    blocks: list[list[str]] = []  # each block: [text, *methods]
    classes: dict[str, list[str]] = {}
    imports: list[ast.Import | ast.ImportFrom] = []
    import_text: list[str] = []
    for src in sources:
        tree = ast.parse(src)
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                imports.append(node)
                import_text.append(_segment(src, node))
            elif isinstance(node, ast.FunctionDef) and _attach_target(node):
                target = _attach_target(node)
                if target not in classes:
                    raise ValueError(f"@attach({target}) on {node.name}: class {target} is not exported before it")
                classes[target].append(textwrap.indent(_segment(src, node, skip_decorators=True), "    "))
            elif isinstance(node, ast.ClassDef):
                block = [_segment(src, node)]
                classes[node.name] = block
                blocks.append(block)
            else:
                blocks.append([_segment(src, node)])
    body = "\n\n\n".join("\n\n".join(block) for block in blocks)
    used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    kept = []
    for node, text in zip(imports, import_text, strict=True):
        names = [(a.asname or a.name).split(".")[0] for a in node.names]
        if any(name in used for name in names) and text not in kept:
            kept.append(text)
    header = f'"""{docstring}"""\n\n' + ("\n".join(kept) + "\n\n\n" if kept else "\n")
    module = header + body + "\n"
    compile(module, "<generated>", "exec")
    return module
