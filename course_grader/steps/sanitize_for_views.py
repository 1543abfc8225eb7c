"""What a submission produced, made safe to show: the autograded notebook is rendered as
HTML in the instructor's formgrader (inside the instructor's own Jupyter session) and in
every student's feedback page, so nothing in it may run a script or fetch anything.

Everything a grading kernel printed or displayed is the student's, even in read-only
cells, and so is every markdown or raw cell that is not word for word one of the
instructor's. ``SanitizeForViews`` (an nbgrader preprocessor, run at autograding right
after the judge, and again when feedback is made) rewrites the notebook so that:

- outputs keep only what renders inertly: plain text, PNG and JPEG images whose data is
  strictly base64 (a quote in it would end the ``src`` attribute it is pasted into) with
  numeric sizes only, HTML and SVG passed through an allowlist sanitizer (no scripts, no
  event handlers, no links, no styles, no ids, nothing that loads a URL). Every other
  type (JavaScript, LaTeX, Markdown, widgets, JSON, the course's own records) becomes a
  line of text saying what was left out;
- a markdown or raw cell the instructor did not write is shown as text, in a code fence
  longer than any run of backticks inside it, with its attachments dropped: Markdown
  renders raw HTML and loads remote images, and a raw cell is pasted in as it is.

The sanitizer is bleach, through nbconvert's own ``SanitizeHTML`` defaults where they fit:
nbconvert depends on it already (no new dependency), it is the one Jupyter's converters
use, and its allowlists are explicit. bleach is in maintenance mode; nh3 would be the
replacement, at the price of a new compiled dependency, for a use this small.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import bleach
import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from course_grader.layout import Course

# Plain formatting: what an HTML table or a bold word needs, no attributes at all.
HTML_TAGS = frozenset(
    "b i em strong code pre p br span div sub sup small u s hr "
    "table thead tbody tfoot tr th td caption ul ol li dl dt dd h1 h2 h3 h4 h5 h6 blockquote".split()
)
# What a computation graph or a chart drawn in SVG is made of; no <a>, <image>, <use>,
# <style>, <foreignObject>, <animate>/<set> (which can rewrite attributes into links).
SVG_TAGS = frozenset(
    "svg g title desc polygon polyline path ellipse circle rect line text tspan defs "
    "marker lineargradient radialgradient stop clippath".split()
)
SVG_ATTRIBUTES = frozenset(
    "width height viewBox preserveAspectRatio xmlns transform points d x y x1 y1 x2 y2 cx cy r rx ry dx dy "
    "fill fill-opacity fill-rule stroke stroke-width stroke-opacity stroke-dasharray stroke-linecap "
    "stroke-linejoin opacity font-family font-size font-weight font-style text-anchor dominant-baseline "
    "offset stop-color stop-opacity gradientUnits markerWidth markerHeight refX refY orient".split()
)
SAFE_AS_IS = ("text/plain",)
IMAGES = ("image/png", "image/jpeg")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
LEFT_OUT = "[{kinds} output not shown: the grader shows a submission's outputs as text and plain pictures only]"


# MathJax (which nbgrader's formgrader and feedback pages load, and JupyterLab runs) typesets
# text between $...$ or \(...\) anywhere but in an element of this class: the text bleach
# keeps would otherwise become links (\href{http://...}), styled boxes or extension loads.
NO_MATH = '<div class="tex2jax_ignore">{}</div>'


def clean_html(html: str) -> str:
    return NO_MATH.format(bleach.clean(html, tags=HTML_TAGS, attributes={}, strip=True, strip_comments=True))


def clean_svg(svg: str) -> str:
    # url(...) in a presentation attribute (fill="url(http://...)") would load it
    cleaned = bleach.clean(svg, tags=SVG_TAGS, attributes={"*": list(SVG_ATTRIBUTES)}, strip=True, strip_comments=True)
    return re.sub(r"url\s*\(", "none(", cleaned, flags=re.IGNORECASE)


def _size(value: Any) -> int | float | None:
    return value if type(value) in (int, float) and 0 < value < 100_000 else None


def clean_bundle(data: dict, metadata: dict) -> tuple[dict, dict]:
    """A display_data or execute_result's MIME bundle and metadata, made inert."""
    kept: dict[str, Any] = {}
    dropped = []
    for kind, value in data.items():
        text = "".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value
        if not isinstance(text, str):
            dropped.append(kind)
        elif kind in SAFE_AS_IS:
            kept[kind] = text
        elif kind in IMAGES and BASE64.fullmatch(text):
            kept[kind] = text
        elif kind == "text/html":
            kept[kind] = clean_html(text)
        elif kind == "image/svg+xml":
            kept[kind] = clean_svg(text)
        else:
            dropped.append(kind)
    if dropped and "text/plain" not in kept:
        kept["text/plain"] = LEFT_OUT.format(kinds=", ".join(sorted(map(str, dropped)))[:200])
    sizes = {}
    for kind in IMAGES:
        meta = metadata.get(kind) if isinstance(metadata, dict) else None
        if kind in kept and isinstance(meta, dict):
            size = {k: v for k in ("width", "height") if (v := _size(meta.get(k))) is not None}
            if size:
                sizes[kind] = size
    return kept, sizes


def as_text(source: str) -> str:
    """Markdown that shows ``source`` literally: a fence longer than any backtick run in it."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"*Written by the student (shown as text):*\n\n{fence}text\n{source}\n{fence}"


def instructor_markdown(notebook: Path) -> set[str]:
    """The sources of the instructor's markdown cells: the only ones shown as written."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError):
        return set()
    return {c.source for c in nb.cells if c.cell_type == "markdown"}


def sanitize_notebook(nb: NotebookNode, trusted: set[str]) -> NotebookNode:
    """Make every cell of ``nb`` safe to render (in place; also returned). ``trusted``:
    the instructor's markdown sources."""
    for cell in nb.cells:
        if cell.cell_type in ("markdown", "raw"):
            cell.pop("attachments", None)
            if cell.cell_type == "raw" or cell.source not in trusted:
                cell.cell_type = "markdown"
                cell.source = as_text(str(cell.source))
                for key in ("format", "raw_mimetype"):
                    cell.metadata.pop(key, None)
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result"):
                data, sizes = clean_bundle(dict(out.get("data", {})), dict(out.get("metadata", {})))
                out["data"] = data
                out["metadata"] = sizes
            elif out.get("output_type") == "stream":
                out["text"] = str(out.get("text", ""))
            elif out.get("output_type") == "error":
                out["ename"], out["evalue"] = str(out.get("ename", "")), str(out.get("evalue", ""))
                out["traceback"] = [str(line) for line in out.get("traceback", [])]
    for key in [k for k in nb.metadata if k not in ("kernelspec", "language_info")]:
        nb.metadata.pop(key)  # a title, or anything else a template might paste into the page
    return nb


class SanitizeForViews(NbGraderPreprocessor):
    """nbgrader preprocessor: the notebook made safe to render (see the module docstring).
    Listed in autograding after the judge, and in feedback."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.get("nbgrader", {})
        folder = Course.from_config(self.config).source(str(info.get("assignment", "")))
        notebook = folder / f"{info.get('notebook', '')}.ipynb"
        return sanitize_notebook(nb, instructor_markdown(notebook)), resources
