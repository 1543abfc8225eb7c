"""The grader's link to a student's process (course_grader/isolation/rpc.py, replay.py): a probe
must see the student's objects exactly as it would in the same process, and the student's
process must get nothing of the grader's but what a probe hands it."""

import json
import shutil
import subprocess
import sys

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


@pytest.mark.slow
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


# --- NumPy arrays (milestones 5-6): by value, whole, one message ----------------------------

ARRAYS = """
import numpy as np

def describe(a):
    # what the student's process received: its type, dtype, shape, layout and bytes
    return (type(a).__name__, a.dtype.str, list(a.shape), a.flags.c_contiguous, a.flags.writeable, a.tobytes().hex())

def echo(a):
    return a

def kind(x):
    return type(x).__name__

def scale_in_place(a, by=2):
    a *= by

def checksum(a):
    return float(a.sum())

big = np.arange(10**6) * 0.5

asked = []  # every question a Liar was asked

class Liar:
    # claims to be an array in every way a converter could ask (an attack would give its
    # __array_interface__ an address as "data"); leaves ndarray * liar to its __rmul__, as a Tensor does
    __array_ufunc__ = None
    def __array__(self, *a, **k):
        asked.append("__array__")
        return np.zeros(3)
    @property
    def __array_interface__(self):
        asked.append("__array_interface__")
        return {"shape": (1,), "typestr": "<f8", "data": None, "version": 3}
    def __len__(self):
        asked.append("__len__")
        return 3
    def __getitem__(self, i):
        asked.append("__getitem__")
        return 0.0
    def __rmul__(self, other):
        asked.append("__rmul__")
        return "the student's __rmul__"

class MyArray(np.ndarray):
    pass

liar = Liar()
subclass = np.arange(3.0).view(MyArray)
matrix = np.eye(2).view(np.matrix)
masked = np.ma.array([1.0, 2.0], mask=[0, 1])
objects = np.array([1.0, "a"], dtype=object)
structured = np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")])
strings = np.array(["ab", "c"])
dates = np.array(["2024-01-01"], dtype="datetime64[D]")
big_endian = np.arange(3.0).astype(">f8")
"""

DTYPES = ["?", "i1", "u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16"]
SHAPES = [(), (0,), (3, 0, 2), (1,), (7,), (2, 3, 4)]


def _sample(np, dtype, shape, seed=0):
    """An array of ``dtype`` and ``shape`` whose bytes say a lot: extremes, NaN and -0.0."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        flat[: min(n, 2)] = [info.min, info.max][: min(n, 2)]
    else:
        flat = (rng.standard_normal(n) * 1e3).astype(dtype)
        if dtype.kind == "c":
            flat = flat + 1j * rng.standard_normal(n).astype(dtype)
        flat[: min(n, 3)] = [np.nan, -0.0, np.inf][: min(n, 3)]
    return flat.reshape(shape)


@pytest.fixture
def arrays(link):
    link.ask("exec", ARRAYS, "<arrays>")
    return link


def _count_messages(link, monkeypatch):
    """The messages this end sends and reads from here on (the dicts, before and after JSON)."""
    sent, received = [], []
    send, receive = link._send, link._receive

    def counted_send(message):
        sent.append(message)
        send(message)

    def counted_receive():
        received.append(receive())
        return received[-1]

    monkeypatch.setattr(link, "_send", counted_send)
    monkeypatch.setattr(link, "_receive", counted_receive)
    return sent, received


def test_arrays_of_every_plain_dtype_and_shape_travel_by_value_both_ways(arrays):
    np = pytest.importorskip("numpy")
    describe, echo = arrays.ask("global", "describe"), arrays.ask("global", "echo")
    for dtype in DTYPES:
        for shape in SHAPES:
            sent = _sample(np, dtype, shape)
            assert describe(sent) == ("ndarray", np.dtype(dtype).str, list(shape), True, True, sent.tobytes().hex())
            back = echo(sent)
            assert type(back) is np.ndarray and back is not sent
            assert back.dtype == sent.dtype and back.shape == sent.shape and back.tobytes() == sent.tobytes()
            assert back.flags.c_contiguous and back.flags.writeable and back.flags.owndata
    native = np.arange(4, dtype="=i8")
    assert echo(native).dtype == native.dtype  # native is little-endian here


def test_non_contiguous_arrays_arrive_contiguous_with_their_values(arrays):
    np = pytest.importorskip("numpy")
    describe, echo = arrays.ask("global", "describe"), arrays.ask("global", "echo")
    base = np.arange(60.0).reshape(6, 10)
    for view in (
        base[::2, ::3],
        base.T,
        np.asfortranarray(base),
        base[::-1, 1],
        np.broadcast_to(np.arange(3.0), (4, 3)),  # zero strides, read-only
        base[1:1],
    ):
        got = describe(view)
        assert got[:5] == ("ndarray", "<f8", list(view.shape), True, True)
        assert got[5] == np.ascontiguousarray(view).tobytes().hex()
        back = echo(view)
        assert back.flags.c_contiguous and back.flags.writeable
        np.testing.assert_array_equal(back, view)
    the_students = arrays.ask("global", "big")[::7]  # a view of a view, both of the student's array
    assert type(the_students) is np.ndarray and the_students[1] == 3.5


def test_a_large_array_costs_one_message_each_way(arrays, monkeypatch):
    """One million floats are one answer of their bytes (base64: 4/3 of them), not a proxy
    per element nor a round trip each."""
    np = pytest.importorskip("numpy")
    checksum = arrays.ask("global", "checksum")
    expected = np.arange(10**6) * 0.5
    sent, received = _count_messages(arrays, monkeypatch)
    before = arrays.received
    big = arrays.ask("global", "big")
    assert len(sent) == 1 and len(received) == 1
    assert 8 * 10**6 * 4 / 3 < arrays.received - before < 8 * 10**6 * 4 / 3 + 200
    assert type(big) is np.ndarray and big.dtype == np.float64 and np.array_equal(big, expected)
    sent.clear()
    received.clear()
    assert checksum(expected) == float(expected.sum())
    assert len(sent) == 1 and len(received) == 1 and "back" not in received[0]  # unchanged: not sent back
    assert len(json.dumps(sent[0])) < 8 * 10**6 * 4 / 3 + 200


def test_arrays_inside_containers_and_arrays_changed_in_place(arrays, monkeypatch):
    np = pytest.importorskip("numpy")
    echo = arrays.ask("global", "echo")
    a, b = np.arange(3.0), np.eye(2, dtype=np.float32)
    nested = {"params": [a, (b, "w")], "grad": {"a": np.zeros(0)}, "n": 1}
    back = echo(nested)
    assert type(back["params"][0]) is np.ndarray and np.array_equal(back["params"][0], a)
    assert type(back["params"][1]) is tuple and back["params"][1][0].dtype == np.float32
    assert back["grad"]["a"].shape == (0,) and back["n"] == 1
    # a function that changes an array it was handed in place is seen to, as for a list
    scale = arrays.ask("global", "scale_in_place")
    view = a[1:]
    scale(a, 10)
    assert list(a) == [0.0, 10.0, 20.0] and list(view) == [10.0, 20.0]  # the same array, changed in place
    scale(a, by=0.5)
    assert list(a) == [0.0, 5.0, 10.0]
    params = [a, b]
    arrays.ask("exec", "def step(ps):\n    for p in ps:\n        p -= 1\n", "<cell>")
    arrays.ask("global", "step")(params)
    assert params[0] is a and list(a) == [-1.0, 4.0, 9.0] and b[0, 0] == 0.0
    deep = np.zeros(1)
    for _ in range(rpc.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ValueError, match="too deeply nested"):  # the depth limit, as for any value
        echo(deep)


def test_what_is_not_a_plain_array_stays_where_it_is(arrays):
    """A subclass, another dtype, or an object that claims to be an array travels as a
    handle; the receiving end asks none of them anything to convert them."""
    np = pytest.importorskip("numpy")
    for name in ("liar", "subclass", "matrix", "masked", "objects", "structured", "strings", "dates", "big_endian"):
        assert type(arrays.ask("global", name)) is rpc.Proxy, name
    assert arrays.ask("global", "asked") == []
    kind = arrays.ask("global", "kind")  # the other way: what the grader hands the student's process

    class Mine(np.ndarray):
        pass

    matrix = np.eye(1).view(np.matrix)  # (np.matrix(...) warns that it is not recommended)
    for value in (matrix, np.ma.array([1.0]), np.array([None]), np.arange(2.0).view(Mine)):
        assert kind(value) == "Proxy"
    assert kind(np.arange(2.0)) == "ndarray"


def test_numpy_never_asks_a_proxy_for_its_memory(arrays):
    """np.asarray(proxy), or an ndarray times a proxy, would ask the student's object for its
    __array_interface__: an address in the grader's memory that NumPy would then read."""
    np = pytest.importorskip("numpy")
    liar = arrays.ask("global", "liar")
    with pytest.raises(TypeError, match="never made a NumPy array here"):
        np.asarray(liar)
    assert np.arange(2.0) * liar == "the student's __rmul__"  # the student's operator, as for a number
    assert arrays.ask("global", "asked") == ["__rmul__"]


def test_a_probe_takes_arrays_only_as_they_travel(arrays):
    np = pytest.importorskip("numpy")
    from course_grader.probes.common import HiddenTestFailure, array

    data = np.arange(3.0)
    assert array(data, "Tensor.data") is data
    for dtype in (bool, np.int8, np.uint64, np.float16):
        array(np.zeros(2, dtype), "Tensor.grad")
    for value, got in (
        (arrays.ask("global", "subclass"), "MyArray"),
        (arrays.ask("global", "liar"), "Liar"),
        (arrays.ask("global", "objects"), "ndarray of dtype object"),
        (np.zeros(2, complex), "ndarray of dtype complex128"),
        ([1.0, 2.0], "list"),
        (2.0, "float"),
    ):
        with pytest.raises(HiddenTestFailure) as failure:
            array(value, "Tensor.data")
        assert str(failure.value).splitlines() == [
            "Tensor.data should be a NumPy array of floats",
            f"  got:      {got}",
        ]
    assert arrays.ask("global", "asked") == []  # the Liar was asked nothing


def test_numpy_is_imported_only_where_an_array_is_met(arrays):
    """rpc.py keeps to the standard library until an array comes: the grader's module alone
    imports no NumPy, and an agent without NumPy still answers everything else."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, course_grader.isolation.rpc; print('numpy' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"
    arrays.ask("exec", "import sys\nsys.modules['numpy'] = None  # as if it were not installed\n", "<cell>")
    V = arrays.ask("global", "V")
    assert (V(1.0) + 2.0).data == 3.0 and arrays.ask("global", "push_twice")([0.5], 1) == 3


FORGED = [  # (what the student's process answers, why the grader breaks the link)
    ('{"A": ["|O", [1], "AAAAAAAAAAA="]}', "type that does not travel"),
    ('{"A": ["<U1", [1], "AAAAAA=="]}', "type that does not travel"),
    ('{"A": [">f8", [1], "AAAAAAAAAAA="]}', "type that does not travel"),
    ('{"A": ["<M8[s]", [1], "AAAAAAAAAAA="]}', "type that does not travel"),
    ('{"A": ["<f8", [-1], ""]}', "impossible shape"),
    ('{"A": ["<f8", [1.0], "AAAAAAAAAAA="]}', "impossible shape"),
    ('{"A": ["<f8", [true], "AAAAAAAAAAA="]}', "impossible shape"),
    ('{"A": ["<f8", "1", "AAAAAAAAAAA="]}', "impossible shape"),
    ('{"A": ["|u1", [' + ", ".join(["1"] * 33) + '], "AQ=="]}', "impossible shape"),
    ('{"A": ["<f8", [4294967296, 4294967296], ""]}', "impossible shape"),
    ('{"A": ["<f8", [0, 4611686018427387904], ""]}', "impossible shape"),
    ('{"A": ["<f8", [100000000], ""]}', r"more data than the limit \(64 MB in one cell\)"),
    ('{"A": ["<f8", [2], "AAAAAAAAAAA="]}', "do not match its shape"),
    ('{"A": ["<f8", [1], "AAAAAAAAAAAAAAAA"]}', "do not match its shape"),
    ('{"A": ["<f8", [1], 12]}', "do not match its shape"),
    ('{"A": ["<f8", [1], "!!!!!!!!!!!="]}', "not base64"),
    ('{"A": ["|u1", [3], "A=AA"]}', "not base64"),
    ('{"A": ["|u1", [3], "AA\\u00e9A"]}', "not base64"),
    ('{"A": ["|b1", [3], "AAEC"]}', "do not match its shape"),  # a bool of 2
    ('{"A": ["<f8", [1]]}', "malformed array"),
    ('{"A": "AAAAAAAAAAA="}', "malformed array"),
    ('{"L": [1.0, {"D": [["w", {"A": ["<f8", [-3], ""]}]]}]}', "impossible shape"),  # nested too
]


@pytest.mark.parametrize(("value", "why"), FORGED)
def test_a_forged_array_breaks_the_link(tmp_path, value, why):
    agent = Agent(tmp_path, sandboxed=False)
    try:
        link = agent.link
        link.deadline = float("inf")
        link.bounded = True
        link.start_cell()
        answer = '{"ok": ' + value + "}"
        forge = f"import os\nos.write(3, {answer!r}.encode() + b'\\n')"
        with pytest.raises(rpc.LinkBroken, match=why):
            link.ask("exec", forge, "<cell>")
        with pytest.raises(rpc.LinkBroken):  # for good
            link.ask("global", "os")
    finally:
        agent.close()


def test_a_forged_array_in_a_call_back_breaks_the_link_too(tmp_path):
    """The student's process calling a function the grader handed it, with a forged array."""
    agent = Agent(tmp_path, sandboxed=False)
    try:
        link = agent.link
        link.deadline = float("inf")
        forged = '{"op": "call", "args": {"L": [{"P": 0}, {"A": ["<f8", [2], "AAAA"]}]}}'
        link.ask("exec", f"import os\ndef forge(f):\n    os.write(3, {forged!r}.encode() + b'\\n')\n", "<cell>")
        with pytest.raises(rpc.LinkBroken, match="do not match its shape"):
            link.ask("global", "forge")(lambda x: x)
    finally:
        agent.close()


def test_an_array_past_the_byte_limit_breaks_the_link(arrays, monkeypatch):
    monkeypatch.setattr(rpc, "CELL_BYTES", 2**20)
    arrays.bounded = True
    arrays.start_cell()
    arrays.ask("exec", "small, large = np.zeros(2**14), np.zeros(2**17)\n", "<cell>")  # 128 KiB, 1 MiB
    assert arrays.ask("global", "small").shape == (2**14,)
    with pytest.raises(rpc.LinkBroken, match=r"more data than the limit \(1 MB in one cell\)"):
        arrays.ask("global", "large")


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_in_the_sandbox_arrays_travel_too(tmp_path):
    np = pytest.importorskip("numpy")
    agent = Agent(tmp_path, sandboxed=True)
    try:
        link = agent.link
        link.deadline = float("inf")
        link.bounded = True
        link.ask("exec", ARRAYS, "<arrays>")
        assert np.array_equal(link.ask("global", "big"), np.arange(10**6) * 0.5)
        sent = _sample(np, "<f4", (3, 4))
        assert link.ask("global", "echo")(sent).tobytes() == sent.tobytes()
        assert type(link.ask("global", "subclass")) is rpc.Proxy
    finally:
        agent.close()
