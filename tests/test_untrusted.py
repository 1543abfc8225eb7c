"""What a submission produced, made safe to render (course_grader/steps/sanitize_for_views.py): every
hostile output and markdown a student can leave in a notebook, through the same HTML
exporter the formgrader and feedback use, renders without a script, an event handler, a
link or anything that loads a URL."""

import base64
from html.parser import HTMLParser

import nbformat
import pytest
from conftest import COURSE
from nbconvert import HTMLExporter

from course_grader.steps.sanitize_for_views import as_text, clean_bundle, instructor_markdown, sanitize_notebook

pytestmark = pytest.mark.unit

M = "m1_value"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
HOSTILE_HTML = (
    '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"><b onclick="x()">bold</b>'
    '<iframe srcdoc="<script>parent.pwned=3</script>"></iframe><a href="javascript:alert(4)">a</a>'
    '<style>body{background:url(http://evil.invalid/5)}</style><form action="http://evil.invalid/6"></form>'
    "<table><tr><td>kept</td></tr></table>"
)
HOSTILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=7" viewBox="0 0 10 10">'
    '<script>window.pwned=8</script><a href="javascript:alert(9)"><text x="1" y="2">t</text></a>'
    '<foreignObject><iframe src="http://evil.invalid/10"></iframe></foreignObject>'
    '<image href="http://evil.invalid/11.png"/><use href="http://evil.invalid/12.svg#x"/>'
    '<set attributeName="onmouseover" to="alert(13)"/><animate attributeName="href" values="javascript:14"/>'
    '<rect width="5" height="5" fill="url(http://evil.invalid/15)" style="fill:url(http://evil.invalid/16)"/>'
    '<polygon points="0,0 1,1 2,0" fill="black"/></svg>'
)


class Active(HTMLParser):
    """What in an HTML page can act: scripts, event handlers, URLs it loads or links to,
    embedded documents, forms and styles. A page rendered from a hostile notebook may hold
    no more of these than the same page rendered from a clean one (the template's own)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: set[str] = set()
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "iframe", "object", "embed", "form", "base", "link", "meta", "frame"):
            self.found.add(f"<{tag} {sorted(attrs)}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or "javascript:" in value.lower().replace(" ", ""):
                self.found.add(f"{tag} {name}={value}")
            inert = (
                tag == "img"
                and name == "src"
                and value.startswith(("data:image/png;", "data:image/jpeg;", "data:image/svg+xml;"))
            )
            if not inert and name in (
                "src",
                "href",
                "action",
                "srcdoc",
                "data",
                "xlink:href",
                "formaction",
                "poster",
                "style",
            ):
                self.found.add(f"{tag} {name}={value[:80]}")
        self._in = tag if tag in ("script", "style") else None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.found.add(f"{self._in} text {data.strip()[:200]}")


def hostile_notebook() -> nbformat.NotebookNode:
    release = nbformat.read(COURSE.release_notebook(M), as_version=4)
    code = next(c for c in release.cells if c.cell_type == "code")
    outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": HOSTILE_HTML}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": HOSTILE_SVG}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "window.pwned=17"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "![t](http://evil.invalid/18.png)"}),
        nbformat.v4.new_output("display_data", data={"text/latex": r"$\href{javascript:alert(19)}{x}$"}),
        nbformat.v4.new_output("display_data", data={"image/png": '" onerror="window.pwned=20'}),
        nbformat.v4.new_output(
            "display_data", data={"image/png": PNG}, metadata={"image/png": {"width": '1" onerror="window.pwned=21'}}
        ),
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "<script>window.pwned=22</script>"}, execution_count=1
        ),
        nbformat.v4.new_output("stream", name="stdout", text="<script>window.pwned=23</script>\n"),
        nbformat.v4.new_output(
            "error",
            ename="<script>24</script>",
            evalue="<img src=x onerror=25>",
            traceback=["<script>window.pwned=26</script>"],
        ),
    ]
    code.outputs = outputs
    trusted = next(c for c in release.cells if c.cell_type == "markdown")
    release.cells += [
        nbformat.v4.new_markdown_cell(
            "Mine: <script>window.pwned=27</script> ![x](http://evil.invalid/28.png)\n"
            "```\n<img src=x onerror=29>\n```\n[click](javascript:alert(30))",
            attachments={"a.png": {"image/png": PNG}},
        ),
        nbformat.v4.new_raw_cell("<script>window.pwned=31</script>", metadata={"format": "text/html"}),
    ]
    release.metadata["title"] = "</title><script>window.pwned=32</script>"
    assert trusted.source in instructor_markdown(COURSE.source_notebook(M))
    return release


def test_hostile_outputs_and_markdown_render_inert():
    nb = hostile_notebook()
    before = nb.cells[1].source
    safe = sanitize_notebook(nb, instructor_markdown(COURSE.source_notebook(M)))
    html, _ = HTMLExporter().from_notebook_node(safe)
    clean, _ = HTMLExporter().from_notebook_node(nbformat.read(COURSE.release_notebook(M), as_version=4))
    assert Active(html).found - Active(clean).found == set()
    body = html[html.index("<body") :]
    assert "<td>kept</td>" in body, "plain formatting survives"
    svg = next(o.data["image/svg+xml"] for c in safe.cells for o in c.get("outputs", []) if "image/svg+xml" in o.data)
    assert "<polygon" in svg and "script" not in svg and "evil" not in svg, "an SVG picture survives, inert"
    assert safe.cells[1].source == before, "the instructor's markdown renders as written"
    student = safe.cells[-2]
    assert student.source.startswith("*Written by the student") and "attachments" not in student
    assert safe.cells[-1].cell_type == "markdown" and "<script>" in safe.cells[-1].source  # as text
    assert "title" not in safe.metadata


def test_clean_bundle_keeps_what_is_inert_and_says_what_it_left_out():
    data, meta = clean_bundle({"image/png": PNG, "text/plain": "fig"}, {"image/png": {"width": 300, "height": "1"}})
    assert data == {"image/png": PNG, "text/plain": "fig"} and meta == {"image/png": {"width": 300}}
    data, _ = clean_bundle({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}}, {})
    assert data == {"text/plain": data["text/plain"]} and "widget-view" in data["text/plain"]


def test_a_fence_cannot_be_closed_from_inside():
    text = as_text("````\n<script>x</script>\n````")
    fence = text.split("\n")[2][: text.split("\n")[2].index("text")]
    assert len(fence) == 5 and text.endswith("\n" + fence)
