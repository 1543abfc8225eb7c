"""The grader's link to a student's process (course_grader/isolation/rpc.py, replay.py): a probe
must see the student's objects exactly as it would in the same process, and the student's
process must get nothing of the grader's but what a probe hands it."""

import shutil

import nbformat
import pytest
from conftest import COURSE, MILESTONES

from course_grader.cells import graded_tests
from course_grader.isolation import rpc
from course_grader.isolation.replay import Agent, ReplayError, probe_calls, replay
from course_grader.isolation.run_notebook import execute
from course_grader.probes import records

pytestmark = pytest.mark.unit

CODE = """
class V:
    def __init__(self, data, _children=()):
        if not isinstance(data, (int, float)):
            raise TypeError(f"V wraps a number, not {type(data).__name__}")
        self.data, self.grad, self._prev = data, 0.0, tuple(_children)
        self._backward = lambda: None
    def __add__(self, other):
        other = other if isinstance(other, V) else V(other)
        return V(self.data + other.data, (self, other))
    def __radd__(self, other):
        return V(other + self.data + 0.5)  # tells a reflected call from a direct one
    def __lt__(self, other):
        return self.data < (other.data if isinstance(other, V) else other)
    def __repr__(self):
        return f"V({self.data})"
    def run_backward(self):
        self._backward()
        return self.grad

def push_twice(xs, x):
    xs.append(x)
    xs.append(x)
    return len(xs)

def spin():
    while True:
        pass

def numbers():
    yield from (1, 2, 3)

class FloatLike(float):
    pass

def call_it(f, *args):
    return f(*args)
"""


@pytest.fixture
def link(tmp_path):
    agent = Agent(tmp_path, sandboxed=False)
    agent.link.budget = 2.0
    agent.link.deadline = float("inf")
    agent.link.ask("exec", CODE, "<test>")
    yield agent.link
    agent.close()


def test_operators_reflection_identity_and_exceptions(link):
    V = link.ask("global", "V")
    a, b = V(1.5), V(2.0)
    c = a + b
    assert type(c.data) is float and c.data == 3.5
    assert list(c._prev) == [a, b] and c._prev[0] is a  # the same proxy for the same object
    assert (2 + a).data == 4.0  # int + V goes to V.__radd__, as it would in one process
    assert (a + 2).data == 3.5
    assert a < b and not b < a
    assert isinstance(c, V) and not isinstance(3.0, V)
    assert repr(c) == "V(3.5)" and f"{c!r}" == "V(3.5)"
    with pytest.raises(TypeError, match="not str"):
        V("3")
    with pytest.raises(AttributeError):
        _ = a.missing
    assert list(link.ask("global", "numbers")()) == [1, 2, 3]
    lying = link.ask("global", "FloatLike")(2.0)
    assert type(lying) is rpc.Proxy  # a float subclass is not a plain number here either


def test_callbacks_and_arguments_changed_in_place(link):
    V = link.ask("global", "V")
    v = V(1.0)
    calls = []
    v._backward = lambda: calls.append("called") or setattr(v, "grad", v.grad + 7.0)
    assert v.run_backward() == 7.0 and calls == ["called"]
    xs = [1.0]
    assert link.ask("global", "push_twice")(xs, 2.5) == 3
    assert xs == [1.0, 2.5, 2.5]  # the student's function changed the list: the grader sees it
    nested = [[0.0], {"k": 1}]
    inner = nested[0]
    link.ask("exec", "def touch(n):\n    n[0][0] = 9.0\n    n[1]['k'] = 2\n", "<t>")
    link.ask("global", "touch")(nested)
    assert nested == [[9.0], {"k": 2}] and nested[0] is inner


STEAL = """
def steal(f, operation, *args):
    # What a student could do: dig the link out of a stub and ask the grader directly.
    cells = [c.cell_contents for c in f.__closure__]
    proxy = next(c for c in cells if type(c).__name__ == "Proxy")
    return object.__getattribute__(proxy, "_link").ask(operation, proxy, *args)
"""


def test_the_student_side_gets_nothing_of_the_grader_but_what_it_is_handed(link):
    secret = {"answer": 42}

    def handed():
        return secret["answer"]

    assert link.ask("global", "call_it")(handed) == 42
    link.ask("exec", STEAL, "<steal>")
    steal = link.ask("global", "steal")
    assert steal(handed, "call") == 42  # calling what it was handed is what it may do
    for operation, *args in (
        ("getattr", "__globals__"),
        ("getattr", "__code__"),
        ("setattr", "x", 1),
        ("delattr", "__name__"),
        ("eq", handed),
        ("exec", "import os", "<x>"),
        ("global", "secret"),
    ):
        with pytest.raises(PermissionError):
            steal(handed, operation, *args)
    assert secret == {"answer": 42}


def test_a_runaway_call_is_stopped_and_the_link_goes_on(link):
    with pytest.raises(TimeoutError):
        link.ask("global", "spin")()
    assert link.ask("global", "V")(1.0).data == 1.0


def test_a_dead_or_lying_process_breaks_the_link_for_good(tmp_path):
    agent = Agent(tmp_path, sandboxed=False)
    try:
        agent.link.deadline = float("inf")
        agent.link.ask("exec", "import os, sys\nreply = 3\n", "<t>")
        with pytest.raises(rpc.LinkBroken):  # a forged answer that is not one
            agent.link.ask("exec", "os.write(4, b'{\"nonsense\": 1}\\n'); os.write(3, b'{\"nonsense\": 1}\\n')", "<t>")
        with pytest.raises(rpc.LinkBroken):  # and nothing is asked of it again
            agent.link.ask("global", "os")
    finally:
        agent.close()
    agent = Agent(tmp_path, sandboxed=False)
    try:
        agent.link.deadline = float("inf")
        with pytest.raises(rpc.LinkBroken, match="stopped"):
            agent.link.ask("exec", "import os\nos._exit(3)", "<t>")
    finally:
        agent.close()


def test_hidden_tests_must_be_probe_calls():
    calls = probe_calls(
        "assert True\n### BEGIN HIDDEN TESTS\nfrom course_grader.probes import m4\n\n"
        "m4.probe_trained(model, X, sizes=[2, 8, 1])\n### END HIDDEN TESTS"
    )
    assert calls[0].function == "probe_trained" and calls[0].args == [("name", "model"), ("name", "X")]
    assert calls[0].kwargs == {"sizes": ("value", [2, 8, 1])}
    for bad in (
        "from course_grader.probes import m1\nm1.probe_init(Value)\nassert Value(1).data == 1",
        "from course_grader.probes import m1\nm1.probe_init(Value())",
        "x = 1",
    ):
        with pytest.raises(ReplayError):
            probe_calls(bad)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_in_the_sandbox_the_grader_package_is_a_stand_in(tmp_path):
    agent = Agent(tmp_path, sandboxed=True)
    try:
        link = agent.link
        link.deadline = float("inf")
        link.ask(
            "exec",
            "import pathlib, course_grader\nfrom course_grader.probes import m1\n"
            "files = sorted(str(p) for p in pathlib.Path(course_grader.__file__).parent.rglob('*.py'))\n"
            "text = ''.join(open(f).read() for f in files)\n",
            "<t>",
        )
        assert link.ask("global", "m1").probe_init(1, 2) is None  # hidden-test cells run, and do nothing
        text = link.ask("global", "text")
        assert "def probe_" not in text and "Random(" not in text and "backprop" not in text
        with pytest.raises(ModuleNotFoundError):
            link.ask("exec", "from course_grader.probes.common import backprop", "<t>")
        with pytest.raises(ModuleNotFoundError):
            link.ask("exec", "import course_grader.probes.records", "<t>")
    finally:
        agent.close()


@pytest.mark.parametrize("milestone", MILESTONES)
def test_the_graders_run_records_what_the_kernel_records(milestone):
    """The same probes, run in the kernel (as nbval and instructors see them) and by the
    grader through the proxy against the same solution, record exactly the same data."""
    folder = COURSE.source(milestone)
    notebook = folder / f"{milestone}.ipynb"
    ran = execute(notebook, folder)
    in_kernel = {}
    for cell in graded_tests(ran):
        found = records.in_outputs(cell.outputs)
        assert len(found) == 1, f"{cell.metadata.nbgrader['grade_id']}: {cell.outputs}"
        in_kernel[cell.metadata.nbgrader["grade_id"]] = found[0]
    outcomes = replay(nbformat.read(notebook, as_version=4), folder, sandboxed=False)
    assert {k: o.failure for k, o in outcomes.items() if o.failure} == {}
    assert {k: o.record for k, o in outcomes.items()} == in_kernel


def test_what_a_probe_lends_is_taken_back_when_it_returns(link, tmp_path):
    """A grader-side function handed to the student's code (a reference backward set on
    its class for one test) is dead once the probe that lent it is over."""
    link.ask("exec", "kept = []\ndef keep(f):\n    kept.append(f)\n    return f(2)\n", "<cell>")

    def reference_double(x):
        return 2 * x

    assert link.ask("global", "keep")(reference_double) == 4  # lent, and used, during the probe
    link.revoke()  # the probe returned (replay._run_probe does this)
    with pytest.raises(PermissionError, match="lent for one hidden test"):
        link.ask("exec", "stolen = kept[0](21)", "<a later cell>")
    assert link.ask("global", "keep")(reference_double) == 4, "lent again, it works again"


def test_a_probe_reaches_the_interpreter_not_what_the_notebook_calls_it(link):
    """A notebook global named __import__, or a replaced sys.setrecursionlimit, must not
    answer for the interpreter (a recursive topo_sort would then escape the limit)."""
    from course_grader.probes.common import student_module

    link.ask(
        "exec",
        (
            "import sys, types\n"
            "fake = types.SimpleNamespace(getrecursionlimit=lambda: 10**6, setrecursionlimit=lambda n: None)\n"
            "__import__ = lambda name, *a, **k: fake\n"
            "sys.setrecursionlimit = lambda n: None\n"
            "def limit():\n    import sys as s\n    return s.getrecursionlimit()\n"
        ),
        "<cell>",
    )
    V = link.ask("global", "V")
    student_sys = student_module("sys", V)
    student_sys.setrecursionlimit(1234)
    assert student_sys.getrecursionlimit() == 1234 == link.ask("global", "limit")()
    with pytest.raises(PermissionError, match=r"no interpreter function 'os\.system'"):
        link.ask("interpreter", "os.system", "true")  # only the listed functions
    student_random = student_module("random", V)
    state = student_random.getstate()
    draws = []
    for _ in range(2):
        student_random.seed(5)
        link.ask("exec", "import random\ndraw = random.random()", "<cell>")
        draws.append(link.ask("global", "draw"))
    assert draws[0] == draws[1]
    student_random.setstate(state)


def test_a_flood_of_objects_or_bytes_ends_that_replay_not_the_grader(link, monkeypatch):
    """The grader's end takes a bounded number of objects and bytes per cell and in all:
    past them the link breaks for good, with the reason (replay then stops that one
    submission, and says so)."""
    monkeypatch.setattr(rpc, "CELL_HANDLES", 500)
    monkeypatch.setattr(rpc, "CELL_BYTES", 200_000)
    link.bounded = True
    link.ask("exec", "def flood(n):\n    return [object() for _ in range(n)]\n", "<cell>")
    link.start_cell()
    assert len(link.ask("global", "flood")(100)) == 100  # within the limit
    with pytest.raises(rpc.LinkBroken, match=r"more objects than the limit \(500 in one cell\)"):
        link.ask("global", "flood")(1000)
    with pytest.raises(rpc.LinkBroken):  # broken for good
        link.ask("global", "flood")(1)


def test_a_flood_of_bytes_breaks_the_link(link, monkeypatch):
    monkeypatch.setattr(rpc, "CELL_BYTES", 2 * 2**20)
    link.bounded = True
    link.start_cell()
    link.ask("exec", "x = 'a' * 5 * 2**20", "<cell>")
    with pytest.raises(rpc.LinkBroken, match=r"more data than the limit \(2 MB in one cell\)"):
        link.ask("global", "x")


def test_a_probe_names_a_students_type_as_the_student_sees_it(link):
    """Issue 17: a TypeError saying "not V" was judged against the grader's wrapper type
    ("Proxy") and lost its points. The name comes from the student's process, even when
    the notebook has its own ``type``."""
    from course_grader.probes.common import type_name

    V = link.ask("global", "V")
    with pytest.raises(TypeError, match=r"not V$"):
        V(V(1.0))
    with pytest.raises(TypeError, match=r"not complex$"):  # a complex travels by value: the student sees one
        V(1j)
    link.ask("exec", "type = lambda *a: int\n", "<cell>")
    v = V(1.0)
    assert type(v) is rpc.Proxy and type_name(v) == "V"
    assert type_name(3.5) == "float"  # plain values travel by value
