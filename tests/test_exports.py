"""What the grader hands to other programs is inert there.

The grades CSV (course_grader/classgrade/gradebook.py, ``export_csv``) is opened in a
spreadsheet: no cell of it may start a formula, whatever a student id or a name holds, and
a score stays a number. An SVG output (course_grader/steps/sanitize_for_views.py,
``clean_svg``) keeps no attribute that loads a URL once its CSS escapes are decoded, and is
marked for MathJax to leave its text alone, while an honest picture stays the same picture.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import bleach
import nbformat
import pytest
from conftest import COURSE

from course_grader.classgrade import gradebook
from course_grader.classgrade.gradebook import export_csv, inert_cell, inert_csv
from course_grader.steps.sanitize_for_views import SVG_ATTRIBUTES, SVG_TAGS, clean_bundle, clean_svg

pytestmark = pytest.mark.unit

# --------------------------------------------------------------------------- the grades CSV

NBGRADER_KEYS = (
    "assignment,duedate,timestamp,student_id,last_name,first_name,email,"
    "raw_score,late_submission_penalty,score,max_score"
).split(",")
HOSTILE_CELLS = [
    "+B2-B2+23",  # the id of +B2-B2+23_m1_value.ipynb
    '=HYPERLINK("http://x")',
    "@SUM(1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "=cmd|' /C calc'!A0",
    "\uff1d1+1",  # a full-width equals sign
]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def is_formula(cell: str) -> bool:
    """How a spreadsheet takes a cell it reads from a CSV: a number is a number; a cell that
    starts with = + - @ (after the blanks it trims), a tab or a CR is a formula (OWASP)."""
    if NUMBER.fullmatch(cell):
        return False
    return cell[:1] in ("\t", "\r") or cell.lstrip()[:1] in ("=", "+", "-", "@", "\uff1d")


def spreadsheet(text: str) -> list[list[str]]:
    """The cells a spreadsheet reads from a CSV's text."""
    return list(csv.reader(io.StringIO(text, newline="")))


def nbgrader_row(student_id: str, last_name: str = "Doe", score: str = "2.0") -> list[str]:
    return ["m1_value", "", "2025-01-01 00:00:00", student_id, last_name, "Jo", "", score, "0.0", score, "3.0"]


def as_nbgrader_writes(rows: list[list[str]]) -> str:
    """nbgrader's CsvExportPlugin: the fields joined by commas as they are, no quoting."""
    return "".join(",".join(row) + "\n" for row in [NBGRADER_KEYS, *rows])


def as_csv_module_writes(rows: list[list[str]]) -> str:
    """A CSV whose every field is quoted: a CR or a comma stays inside its field."""
    out = io.StringIO(newline="")
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([NBGRADER_KEYS, *rows])
    return out.getvalue()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("+B2-B2+23", "'+B2-B2+23"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(1)", "'@SUM(1)"),
        ("-2+3", "'-2+3"),
        ("\t=1+1", "'\t=1+1"),
        ("\rx", "'\rx"),
        (" \u00a0=1+1", "' \u00a0=1+1"),
        ("-", "'-"),
        ("-1.5", "-1.5"),
        ("+2", "+2"),
        ("1e-05", "1e-05"),
        ("-3.5e+2", "-3.5e+2"),
        ("0.0", "0.0"),
        ("", ""),
        ("alice", "alice"),
        ("a-b+c@d", "a-b+c@d"),
        ("2025-01-01 00:00:00.000000", "2025-01-01 00:00:00.000000"),
        ("'=1", "'=1"),  # already inert: not prefixed twice
    ],
)
def test_a_cell_that_would_start_a_formula_is_prefixed_and_a_number_is_not(value, shown):
    assert inert_cell(value) == shown
    assert inert_cell(inert_cell(value)) == shown


@pytest.mark.parametrize("written_by", [as_nbgrader_writes, as_csv_module_writes], ids=["nbgrader", "quoted"])
def test_a_csv_with_hostile_ids_opens_in_a_spreadsheet_without_a_formula(written_by):
    rows = [nbgrader_row(cell, last_name=cell) for cell in HOSTILE_CELLS]
    rows += [nbgrader_row("alice", score="-1.5"), nbgrader_row("bob", last_name="Smith, Jr.")]
    raw = written_by(rows)
    assert any(is_formula(cell) for row in spreadsheet(raw) for cell in row)  # the test can fail
    inert = inert_csv(raw)
    read = spreadsheet(inert)
    formulas = [cell for row in read for cell in row if is_formula(cell)]
    assert not formulas, formulas
    # the same cells as a spreadsheet read them before, quoted where they would start a formula
    assert read == [[inert_cell(cell) for cell in row] for row in spreadsheet(raw)]
    assert read[0] == NBGRADER_KEYS
    scores = {row[3]: row[7:] for row in read[1:] if len(row) == len(NBGRADER_KEYS)}
    assert scores["alice"] == ["-1.5", "0.0", "-1.5", "3.0"]  # numbers stay numbers
    assert scores["'+B2-B2+23"] == ["2.0", "0.0", "2.0", "3.0"]
    if written_by is as_csv_module_writes:  # every id is there, in its own row
        assert [row[3] for row in read[1:]] == ["'" + cell for cell in HOSTILE_CELLS] + ["alice", "bob"]


def test_a_csv_with_nothing_hostile_is_written_back_byte_for_byte():
    raw = as_nbgrader_writes([nbgrader_row("alice"), nbgrader_row("bob", score="0.5"), nbgrader_row("a.b-c@d")])
    assert inert_csv(raw) == raw
    crlf = raw.replace("\n", "\r\n")
    assert inert_csv(crlf) == crlf


def fake_nbgrader_export(students: list[SimpleNamespace], returncode: int = 0):
    """``subprocess.run`` for ``python -m nbgrader export --to=...``: nbgrader's own CSV
    exporter, run in this process on a gradebook of ``students`` (no database)."""
    from nbgrader.api import MissingEntry
    from nbgrader.plugins.export import CsvExportPlugin

    assignment = SimpleNamespace(name="m1_value", duedate=None, max_score=3.0)

    def find_submission(assignment: str, student: str) -> SimpleNamespace:
        if student.startswith("@"):
            raise MissingEntry()
        return SimpleNamespace(late_submission_penalty=0.0, timestamp="2025-01-01 00:00:00", score=2.0)

    book = SimpleNamespace(assignments=[assignment], students=students, find_submission=find_submission)

    def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
        assert args[1:4] == ["-m", "nbgrader", "export"], args
        (to,) = [Path(kwargs["cwd"], a.removeprefix("--to=")) for a in args if a.startswith("--to=")]
        if returncode == 0:
            CsvExportPlugin(to=str(to)).export(book)
        else:
            to.write_text("half written\n=1+1,")
        return subprocess.CompletedProcess(args, returncode, "", "" if returncode == 0 else "nbgrader failed")

    return run


def student(sid: str, last: str = "Doe", first: str = "Jo", email: str = "") -> SimpleNamespace:
    return SimpleNamespace(id=sid, last_name=last, first_name=first, email=email)


def test_export_csv_writes_nbgrader_export_inert_in_one_step(tmp_path, monkeypatch):
    students = [student(sid, last=sid) for sid in ("+B2-B2+23", "@SUM(1)", "-2+3", "=HYPERLINK(x)")]
    students += [student("\t=1+1", first="-1.5"), student("alice", email="=1+1@x")]
    monkeypatch.setattr(gradebook.subprocess, "run", fake_nbgrader_export(students))
    dest = tmp_path / "out" / "grades.csv"
    dest.parent.mkdir()
    dest.write_text("previous\n")
    dest.chmod(0o640)
    assert export_csv(tmp_path, "sqlite:///unused.db", dest) is None
    text = dest.read_text()
    read = spreadsheet(text)
    formulas = [cell for row in read for cell in row if is_formula(cell)]
    assert not formulas, formulas
    assert read[0] == NBGRADER_KEYS and len(read) == 1 + len(students)
    assert [row[3] for row in read[1:]] == ["'" + s.id for s in students[:-1]] + ["alice"]
    # a name is text even where it reads as a number (an id "+5" must not become 5); an email is quoted
    assert read[5][5] == "'-1.5" and read[6][6] == "'=1+1@x"
    assert [row[7] for row in read[1:]] == ["2.0", "0.0", "2.0", "2.0", "2.0", "2.0"]
    assert os.listdir(dest.parent) == ["grades.csv"], "the scratch copy is gone"
    assert dest.stat().st_mode & 0o777 == 0o640, "the file keeps its mode, as nbgrader's open(dest, 'w') does"


def test_export_csv_that_fails_leaves_the_previous_file(tmp_path, monkeypatch):
    monkeypatch.setattr(gradebook.subprocess, "run", fake_nbgrader_export([student("x")], returncode=1))
    dest = tmp_path / "grades.csv"
    dest.write_text("previous\n")
    assert export_csv(tmp_path, "sqlite:///unused.db", dest) == "nbgrader failed"
    assert dest.read_text() == "previous\n" and os.listdir(tmp_path) == ["grades.csv"]
    # a folder that does not exist: said, not raised
    monkeypatch.setattr(gradebook.subprocess, "run", fake_nbgrader_export([student("x")]))
    assert "FileNotFoundError" in (export_csv(tmp_path, "sqlite:///unused.db", tmp_path / "no" / "g.csv") or "")


def test_a_relative_destination_is_where_nbgrader_run_in_the_course_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(gradebook.subprocess, "run", fake_nbgrader_export([student("+1-1")]))
    monkeypatch.chdir(tmp_path)
    course = tmp_path / "course"
    course.mkdir()
    assert export_csv(course, "sqlite:///unused.db", Path("grades.csv")) is None
    assert spreadsheet((course / "grades.csv").read_text())[1][3] == "'+1-1"


# --------------------------------------------------------------------------- SVG outputs

EVIL = "http://evil.invalid"
# Each value loads from EVIL once a browser has decoded its HTML entities and CSS escapes.
URL_FORMS = [
    rf"\75 rl({EVIL}/hex-space)",
    rf"\000075rl({EVIL}/hex-six)",
    rf"u\72l({EVIL}/r)",
    rf"\u\r\l({EVIL}/letters)",
    rf"\55 \52 \4c ({EVIL}/upper)",
    rf"U\52l({EVIL}/mixed)",
    rf"u\52 L({EVIL}/mixed2)",
    rf"url\28 {EVIL}/paren)",
    rf"\75 \72 \6c \28 {EVIL}/all)",
    f"u/**/rl({EVIL}/comment)",
    rf"\75/* x */rl({EVIL}/comment2)",
    rf"u\0 rl({EVIL}/nul-escape)",
    f"u\x00rl({EVIL}/nul)",
    f"u\\\nrl({EVIL}/continuation)",
    rf"\5c 75 rl({EVIL}/escaped-escape)",
    f"&#x5c;75 rl({EVIL}/entity)",
    f"&amp;#x5c;75 rl({EVIL}/entity-twice)",
    f"&#117;rl({EVIL}/entity-u)",
    f"url ({EVIL}/space)",
    f"URL({EVIL}/plain)",
    f'"/*" url({EVIL}/comment-in-string) "*/"',  # a comment mark inside a CSS string is no comment
    rf"/*\*/url({EVIL}/escape-in-comment)",
]
EXPRESSION_FORMS = [
    rf"\65 xpression(fetch('{EVIL}/e1'))",
    rf"exp\ression(fetch('{EVIL}/e2'))",
    rf"\45 XPRESSION(fetch('{EVIL}/e3'))",
    f"exp/**/ression(fetch('{EVIL}/e4'))",
    rf"\000065xpression(fetch('{EVIL}/e5'))",
    f"expression(fetch('{EVIL}/e6'))",
]
IMPORT_FORMS = [
    rf"\40 import '{EVIL}/i1.css'",
    rf"@\69 mport '{EVIL}/i2.css'",
    rf"@im\port '{EVIL}/i3.css'",
    f"@IMPORT '{EVIL}/i4.css'",
    f"@im/**/port '{EVIL}/i5.css'",
    rf"\6a avascript:fetch('{EVIL}/j1')",
]
STORED_PICTURES = [
    (m, i, svg)
    for m in ("m1_value", "m2_backward", "m3_mlp")
    for i, svg in enumerate(
        o.data["image/svg+xml"]
        for c in nbformat.read(COURSE.source_notebook(m), as_version=4).cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    )
]
SVG_NS = "{http://www.w3.org/2000/svg}"
IGNORED = {"tex2jax_ignore", "mathjax_ignore"}  # MathJax 2's class and MathJax 3's


def svg_with_everywhere(value: str) -> str:
    """An SVG with ``value`` in every attribute the sanitizer allows (quoted for HTML)."""
    quoted = value.replace('"', "&quot;")
    rects = "".join(f'<rect {name}="{quoted}"/>' for name in sorted(SVG_ATTRIBUTES))
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">{rects}</svg>'


@pytest.mark.parametrize("value", URL_FORMS + EXPRESSION_FORMS + IMPORT_FORMS)
def test_no_attribute_loads_a_url_however_its_css_is_escaped(value):
    cleaned = clean_svg(svg_with_everywhere(value))
    assert "evil" not in cleaned.lower(), cleaned[:600]
    assert "\\" not in cleaned and "&#x5c;" not in cleaned.lower()
    assert cleaned.count("<rect") == len(SVG_ATTRIBUTES), "the shapes themselves stay"
    # in fill and stroke, next to an honest colour that stays
    quoted = value.replace('"', "&quot;")
    shape = clean_svg(f'<svg><rect width="3" fill="{quoted}" stroke="#000"/><rect stroke="{quoted}" fill="red"/></svg>')
    assert 'width="3"' in shape and 'stroke="#000"' in shape and 'fill="red"' in shape
    assert "evil" not in shape.lower()


def parsed(svg: str) -> ET.Element:
    """An SVG as an image viewer parses it: XML, one root."""
    return ET.fromstring(svg)


def drawing(root: ET.Element) -> list[tuple[str, dict[str, str], str]]:
    """What a picture draws: its elements in order, with their allowed attributes and text."""
    return [
        (
            el.tag,
            {k: v for k, v in el.attrib.items() if k in SVG_ATTRIBUTES},
            (el.text or "").strip(),
        )
        for el in root.iter()
        if el.tag.removeprefix(SVG_NS).lower() in SVG_TAGS
    ]


def graphviz_picture() -> str:
    if not shutil.which("dot"):
        pytest.skip("Graphviz's dot is not installed: the stored pictures stand for it")
    import graphviz

    d = graphviz.Digraph(graph_attr={"rankdir": "LR"})
    d.node("a", label="{ a | data 2.0000 | grad -3.0000 }", shape="record")
    d.node("t", label="tanh")
    d.edge("a", "t")
    return d.pipe(format="svg", encoding="utf-8")


@pytest.mark.parametrize(
    "picture",
    [pytest.param(svg, id=f"{m}-{i}") for m, i, svg in STORED_PICTURES] + [pytest.param(None, id="dot")],
)
def test_an_honest_graphviz_picture_survives_unchanged_but_marked(picture):
    svg = graphviz_picture() if picture is None else picture
    cleaned = clean_svg(svg)
    allowlist = bleach.clean(
        svg, tags=SVG_TAGS, attributes={"*": sorted(SVG_ATTRIBUTES)}, strip=True, strip_comments=True
    )
    # the attribute filter drops nothing the allowlist keeps; the classes are the only addition
    assert cleaned == allowlist.replace("<svg", '<svg class="tex2jax_ignore mathjax_ignore"', 1)
    root = parsed(cleaned)
    assert root.tag == f"{SVG_NS}svg", "still an SVG document: an <img> of it shows the picture"
    assert set(root.get("class", "").split()) == IGNORED
    assert drawing(root) == drawing(parsed(svg))
    assert sum(el.tag == f"{SVG_NS}text" for el in root.iter()) >= 2


MATH = r"$\href{http://x}{y}$ \(\require{http://x/ext.js}\)"


@pytest.mark.parametrize(
    "svg",
    [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="1" y="9">{MATH}</text></svg>',
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tex2jax_process mathjax_process"><g class="x">'
        f'<text class="tex2jax_process">{MATH}</text></g></svg>',
        f"<svg><desc>{MATH}</desc><title>{MATH}</title></svg>",
        f'{MATH} <svg xmlns="http://www.w3.org/2000/svg"><text>t</text></svg> {MATH}',
        f"<svg><text>{MATH}</text></svg><svg><text>{MATH}</text></svg>",
        f"<p>{MATH}</p>",
        MATH,
    ],
    ids=["text", "process-class", "title-desc", "text-around", "two-roots", "not-svg", "bare-text"],
)
def test_an_svg_output_is_marked_for_mathjax_to_ignore_all_its_text(svg):
    data, _ = clean_bundle({"image/svg+xml": svg}, {})
    cleaned = data["image/svg+xml"]
    root = parsed(cleaned)  # one root: no text outside it
    assert root.tag == f"{SVG_NS}svg" or root.tag == "svg"
    assert set(root.get("class", "").split()) == IGNORED, cleaned
    assert all(el.get("class") is None for el in root.iter() if el is not root), "no class a student chose"
    assert r"\href" in "".join(root.itertext()), "the text is kept, as text"


def test_html_outputs_are_marked_for_both_mathjax_versions():
    data, _ = clean_bundle({"text/html": f"<p>{MATH}</p>"}, {})
    html = data["text/html"]
    assert re.fullmatch(r'<div class="([^"]*)"><p>.*</p></div>', html, re.DOTALL)
    assert set(re.match(r'<div class="([^"]*)"', html).group(1).split()) == IGNORED


def test_a_number_stays_a_number_only_in_a_score_column():
    header = ",".join(NBGRADER_KEYS)
    row = "m1_value,,,+5,-1,x,y@z,-2.5,0.0,-2.5,23.0"
    out = list(csv.reader(io.StringIO(inert_csv(f"{header}\n{row}\n"))))
    assert out[1][3] == "'+5" and out[1][4] == "'-1"  # an id and a name: text
    assert out[1][7] == "-2.5" and out[1][9] == "-2.5"  # scores: numbers
