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
  event handlers, no links, no styles, no ids, nothing that loads a URL: an SVG attribute
  is judged on its value with HTML entities and CSS escapes decoded), each marked so that
  MathJax leaves its text alone. Every other
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
from html import unescape as html_unescape
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
# text between $...$ or \(...\) anywhere but in an element of these classes: the text bleach
# keeps would otherwise become links (\href{http://...}), styled boxes or extension loads.
# tex2jax_ignore is MathJax 2's class (nbconvert's templates, so nbgrader's pages, load 2.7.7);
# mathjax_ignore is MathJax 3's (JupyterLab 4 keeps its default, and knows no tex2jax_ignore).
IGNORE_MATH = "tex2jax_ignore mathjax_ignore"
NO_MATH = f'<div class="{IGNORE_MATH}">{{}}</div>'

# What makes a CSS value fetch or run something. A presentation attribute (fill, stroke) is
# CSS: url() loads; the rest are here because no honest picture's attribute holds them.
CSS_LOADS = (
    "url(",
    "src(",
    "image(",
    "image-set(",
    "cross-fade(",
    "expression(",
    "@import",
    "javascript:",
    "vbscript:",
)
# CSS Syntax 3, "consume an escaped code point": a backslash and 1-6 hex digits (and one
# whitespace after them, CRLF counting as one), or a backslash and any other character.
CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\r\n\f])?|(.)|$)", re.DOTALL)
CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
ENTITY_LAYERS = 4  # &amp;#x5c; and the like: more layers than this is no picture's value


def clean_html(html: str) -> str:
    return NO_MATH.format(bleach.clean(html, tags=HTML_TAGS, attributes={}, strip=True, strip_comments=True))


def _css_code_point(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        code = int(m.group(1), 16)
        # the CSS spec makes 0, surrogates and too-large values U+FFFD; dropping them
        # instead can only make a forbidden word appear, never hide one
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""
    char = m.group(2)
    return "" if char is None or char in "\r\n\f" else char  # \<newline>: a line continuation


def css_readings(value: str) -> list[str]:
    """``value`` as CSS may read it, and a little more: its escapes decoded, with and
    without its comments (a comment mark inside a CSS string is no comment), NULs and U+FFFD
    (what an HTML parser makes of a NUL) taken out. So ``\\75 rl(``, ``u\\72l(``,
    ``u/**/rl(`` and ``u\\0 rl(`` all read ``url(`` in one of them: erring that way only
    drops an odd attribute."""
    value = value.replace("\0", "").replace("\ufffd", "")
    decoded = [CSS_ESCAPE.sub(_css_code_point, text) for text in (value, CSS_COMMENT.sub("", value))]
    return decoded + [CSS_COMMENT.sub("", text) for text in decoded]


def inert_css_value(value: str) -> bool:
    """Whether an SVG attribute's value (as the HTML parser hands it over) can load or run
    nothing, whatever layer of encoding a browser peels off.

    bleach writes an entity it finds in a value back as an entity (``&amp;#x5c;`` in the
    source reaches the browser as ``&#x5c;``, so as a backslash), and it unescapes fill and
    stroke once more itself: every layer of HTML entities is checked, each read as CSS
    (``css_readings``). A backslash left after decoding (an escaped escape) is refused too:
    no honest picture has one."""
    layers = [value]
    while (peeled := html_unescape(layers[-1])) != layers[-1]:
        if len(layers) > ENTITY_LAYERS:
            return False
        layers.append(peeled)
    for reading in (text for layer in layers for text in css_readings(layer)):
        if "\\" in reading:
            return False
        compact = re.sub(r"[\s\x00-\x1f\x7f]+", "", reading).casefold()
        if any(word in compact for word in CSS_LOADS):
            return False
    return True


def _svg_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter for SVG: allowed names, with values that load nothing."""
    return name in SVG_ATTRIBUTES and inert_css_value(value)


# A tag in bleach's output: every attribute value is double-quoted, and a "<" in a value or in
# text is written &lt;, so each "<" left starts a tag (comments are stripped).
TAG = re.compile(r'<(/?)([^\s/>]+)(?:\s+[^\s=/>]+(?:="[^"]*")?)*\s*(/?)>')


def _single_svg_root(svg: str) -> re.Match[str] | None:
    """The start tag of ``svg``'s root element, if it is one ``<svg>`` element with nothing
    but whitespace around it (as any picture is); else None."""
    depth, root, end = 0, None, 0
    for m in TAG.finditer(svg):
        closing, _, empty = m.groups()
        if depth == 0 and svg[end : m.start()].strip():
            return None  # text outside the root
        if closing:
            depth -= 1
            if depth < 0:
                return None
        else:
            if depth == 0:
                if root is not None:
                    return None  # a second top-level element
                root = m
            depth += not empty
        end = m.end()
    if root is None or depth or svg[end:].strip() or root.group(2).lower() != "svg":
        return None
    return root


def clean_svg(svg: str) -> str:
    """An SVG output with only drawing elements and attributes whose values load nothing,
    marked for MathJax to leave alone.

    Attributes: bleach keeps an allowed attribute only if ``inert_css_value`` accepts its
    value (a CSS-escaped ``\\75 rl(`` is ``url(`` to a browser); then, as a second layer,
    any ``url(`` left in the output is made ``none(``.

    MathJax: nbgrader's feedback and formgrader pages (nbconvert's classic template) and
    JupyterLab (for a trusted notebook; an untrusted one shows no SVG) all show an SVG output
    as ``<img src="data:image/svg+xml...">``: MathJax never sees its text there, and a
    picture in an ``<img>`` loads nothing. What matters for them is that the output stays an
    SVG document: wrapped in ``<div class="tex2jax_ignore">`` as HTML outputs are, the image
    would have an HTML root and show nothing. So the root ``<svg>`` itself carries the
    classes, for a view that pastes the SVG into its page: MathJax 3 (JupyterLab 4) reads an
    element's class attribute and honours it there. MathJax 2 does not (it reads
    ``className``, which an SVG element has as an object), and nbconvert's
    ``HTMLExporter.skip_svg_encoding=True`` shows the SVG's source as escaped text, which no
    class inside it can mark: neither is how the course renders. An output that is not one
    ``<svg>`` element (text around it, several roots) is put inside an ``<svg>`` root with
    the classes, so that no text is outside it."""
    cleaned = bleach.clean(svg, tags=SVG_TAGS, attributes=_svg_attribute, strip=True, strip_comments=True)
    cleaned = re.sub(r"url\s*\(", "none(", cleaned, flags=re.IGNORECASE)
    root = _single_svg_root(cleaned)
    if root is None:
        return f'<svg xmlns="http://www.w3.org/2000/svg" class="{IGNORE_MATH}">{cleaned}</svg>'
    at = root.start() + len("<svg")
    return f'{cleaned[:at]} class="{IGNORE_MATH}"{cleaned[at:]}'


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
