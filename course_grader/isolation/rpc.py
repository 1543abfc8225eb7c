"""A small two-way object protocol over a pair of pipes: the grader uses a student's
objects, living in another (sandboxed) process, as if they were its own.

Why: a probe that runs in the student's kernel can be replaced, patched or imitated by
the student's code, and whatever it emits is the student's word. Run in the grader's
process instead, a probe only *asks* the student's process to do things (make a Value,
add two of them, read a gradient) with inputs it chose; what it records are the answers.
The student's process may still answer anything, but it must answer these questions,
whose inputs it does not choose, for the probe to record right answers.

Both ends run this file: the grader imports it, and the student's process runs its
source (``agent_main``) where ``course_grader`` is only a stand-in. So it uses the
standard library only, and NumPy when an array is met or announced (both ends have it; a
process without it never meets an array, so this file still runs where it is missing).

Values cross as JSON lines. Exactly-typed ``None``/``bool``/``int``/``float``/``complex``/``str`` and
exactly-typed lists, tuples, sets and dicts of them travel by value, and so does an array of
exactly ``numpy.ndarray`` with a plain number dtype (``ARRAY_DTYPES``), as one message of its
dtype, shape and bytes: milestones 5-6 read a Tensor's ``data`` and ``grad`` whole, and a
proxy per element would cost a round trip each. Such an array is a copy, as a list is: what
a call changes in one it was handed is copied back when it returns, but a probe that writes
into ``t.data`` writes into its own copy (``t.data = new`` is asked of the student's
object). Anything else stays where it lives and travels as a handle, which the other end
wraps in a ``Proxy`` that forwards every operation (but NumPy's questions about memory). A
proxy is unique per object, so ``is`` and ``id`` keep their meaning across the link.
Either end may call back into the other while it waits for an answer (a probe's
``_backward`` set on a student's Value, say), so the protocol is nested.

The grader's end is ``trusting=False``: its peer may call the functions and bound methods
it was handed and read their public attributes, nothing else - no ``__globals__``, no
setting attributes, no module. The student's end serves everything on its own objects.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import math
import operator
import os
import select
import signal
import sys
import time
import types
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import numpy

PLAIN = (type(None), bool, int, float, str)
MAX_LINE = 64 * 1024 * 1024  # a message longer than this is an attack or a bug
# What the grader's end takes from the student's process, per cell and per submission: the
# objects it holds a proxy for (each costs the grader memory) and the bytes it reads. The
# most an honest solution of the course hands over is ~40,000 objects and 1.5 MB in one
# cell (a 10,000-step chain), ~46,000 and 1.7 MB in a whole notebook.
CELL_HANDLES, CELL_BYTES = 250_000, 64 * 1024 * 1024
TOTAL_HANDLES, TOTAL_BYTES = 1_000_000, 256 * 1024 * 1024
MAX_DEPTH = 40  # nesting of containers sent by value
# The dtypes an array may travel by value with, as NumPy spells them (``dtype.str``): plain
# numbers, little-endian (every machine the course runs on; a big-endian array, an object,
# string, structured or datetime one travels as a handle). The receiving end builds an array
# from a dtype of this list only, never from whatever the other end names.
ARRAY_DTYPES = frozenset(
    ("|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16")
)
MAX_RANK = 32  # dimensions of an array sent by value (NumPy 1.x allows 32)


class LinkBroken(BaseException):
    """The other end died, hung past its time, or spoke nonsense.

    A BaseException on purpose: a probe's ``except Exception`` around student code must not
    mistake a dead link for something the student's code raised, and go on asking."""


class RemoteError(Exception):
    """An exception of a type that is not a builtin, raised on the other end."""


# What one end may ask the other to do to objects it holds.
OPERATIONS: dict[str, Any] = {
    name: getattr(operator, name)
    for name in (
        "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs", "invert",
        "lt", "le", "gt", "ge", "eq", "ne", "getitem", "setitem", "delitem", "contains",
    )
}  # fmt: skip
OPERATIONS.update({name: getattr(builtins, name) for name in ("repr", "str", "len", "iter", "next", "bool")})
OPERATIONS.update({name: getattr(builtins, name) for name in ("float", "int", "isinstance", "hash", "format")})
OPERATIONS.update(getattr=getattr, setattr=setattr, delattr=delattr, call=lambda f, *a, **k: f(*a, **k))
# What only the student's end serves: run a cell, look up a notebook name, and call one of
# the interpreter's own functions as they were before any student code ran (a probe that
# sets the recursion limit or seeds ``random`` means the interpreter's, not a notebook
# global that pretends to be it, nor a module attribute the student's code replaced).
AGENT_ONLY = ("exec", "global", "interpreter")
INTERPRETER = ("sys.getrecursionlimit", "sys.setrecursionlimit", "random.getstate", "random.setstate", "random.seed")
# (and "type.name": the name of an object's type, as the student's process sees it)
# What the grader's end lets its untrusted peer do with the few callables it hands over.
GUARDED = {"call", "getattr", "bool", "len", "iter", "next", "repr", "str", "hash"}

# What NumPy asks an object it is handed to turn into an array (np.asarray(x), ndarray * x):
# answered by the other end, ``__array_interface__`` would be an address in this process that
# NumPy reads (or writes) - another process's choice of this one's memory.
NUMPY_PROTOCOL = ("__array", "__dlpack")

_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
_SELF_FIRST = (
    "repr", "str", "format", "bool", "len", "iter", "next", "float", "int", "neg", "pos", "abs",
    "getitem", "setitem", "contains", "lt", "le", "gt", "ge",
)  # fmt: skip


def _too_long(signum: int, frame: object) -> None:
    if signum == signal.SIGPROF:
        raise TimeoutError("this used up its CPU time and was stopped")
    raise TimeoutError("this ran past its wall-clock ceiling (waiting or sleeping, not computing) and was stopped")


def _raise(kind: str, message: str) -> None:
    """Raise on this end what the other end raised: builtin types as themselves."""
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not StopAsyncIteration:
        raise cls(message)
    raise RemoteError(f"{kind}: {message}")


class Proxy:
    """An object of the other end. Every operation is asked of the real object there,
    except NumPy's questions about its memory (``NUMPY_PROTOCOL``)."""

    __slots__ = ("__weakref__", "_link", "_ref")

    # ``ndarray + proxy`` is the other end's ``__radd__``, as for a number: NumPy leaves a
    # binary operator to an operand that sets this, without asking it anything else.
    __array_ufunc__ = None

    def __init__(self, link: Link, ref: int) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ref", ref)

    def __getattr__(self, name: str) -> Any:
        if name.startswith(NUMPY_PROTOCOL):
            raise TypeError(
                "an object of the other process is never made a NumPy array here (its __array_interface__ would "
                "say where in this process's memory the array is): arrays travel by value; a probe checks one "
                "with probes.common.array"
            )
        return self._link.ask("getattr", self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._link.ask("setattr", self, name, value)

    def __delattr__(self, name: str) -> None:
        self._link.ask("delattr", self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.ask_call(self, args, kwargs)

    def __instancecheck__(self, instance: Any) -> bool:
        return self._link.ask("isinstance", instance, self)

    # Identity, as for any object: a proxy stands for one object of the other end.
    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__


def _forward(name: str) -> Any:
    return lambda self, *args: self._link.ask(name, self, *args)


def _reflected(name: str) -> Any:
    return lambda self, other: self._link.ask(name, other, self)


# Every other operation on a proxy is the same operation on the real object: x.__neg__()
# is asked as "neg" of x, x.__getitem__(k) as "getitem" of x and k, x.__radd__(y) as "add"
# of y and x (so the other end's dispatch, reflected operators included, is the real one).
for _name in (*_SELF_FIRST, *_BINARY):
    setattr(Proxy, f"__{_name}__", _forward(_name))
for _name in _BINARY:
    setattr(Proxy, f"__r{_name}__", _reflected(_name))


def _is_array(x: object) -> bool:
    """Whether ``x`` is exactly a ``numpy.ndarray``, without importing NumPy: where it was
    never imported, no array exists."""
    np = sys.modules.get("numpy")
    return np is not None and type(x) is getattr(np, "ndarray", None)


def _refill(original: Any, new: Any) -> bool:
    """Copy ``new`` into ``original`` when both are arrays of one dtype and shape: an array
    that travelled by value and was changed in place on the other end is changed here too,
    and stays the same object (a view of it sees the change). False when it cannot be."""
    if not (_is_array(original) and _is_array(new)) or original.shape != new.shape or original.dtype != new.dtype:
        return False
    if original.flags.writeable:
        original[...] = new
    return True


def _update(original: Any, new: Any) -> None:
    """Make ``original`` (a list, dict or set) hold what ``new`` holds, keeping the
    identity of nested lists, dicts and arrays that are still there."""
    if type(original) is list and len(original) == len(new):
        for i, (o, n) in enumerate(zip(original, new, strict=True)):
            if type(o) in (list, dict, set) and type(n) is type(o):
                _update(o, n)
            elif not _refill(o, n):
                original[i] = n
    elif type(original) is dict:
        for key in [k for k in original if k not in new]:
            del original[key]
        for key, n in new.items():
            o = original.get(key)
            if type(o) in (list, dict, set) and type(n) is type(o):
                _update(o, n)
            elif not _refill(o, n):
                original[key] = n
    elif type(original) is set:
        original.clear()
        original.update(new)
    else:
        original[:] = new


class Link:
    """One end of the protocol: sends questions, answers the other end's."""

    def __init__(self, read_fd: int, write_fd: int, *, trusting: bool, namespace: dict | None = None) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.trusting = trusting
        self.namespace = namespace  # the agent's globals: what "exec" and "global" work on
        self.interpreter: dict[str, Any] = {}  # the agent's INTERPRETER functions, taken at its start
        self.objects: list[Any] = []  # ours, by handle: kept alive so that no id is reused
        self.handles: dict[int, int] = {}  # id(ours) -> handle
        self.revoked = 0  # handles below this were lent for a call that has returned: dead
        self.proxies: dict[int, Any] = {}  # theirs, by handle -> our proxy or stub
        self.stubs: dict[int, int] = {}  # id(stub function) -> their handle (trusting end only)
        self.buffer = bytearray()  # read, not yet taken as a message (grown in place: arrays come in many reads)
        self.scanned = 0  # the buffer holds no newline before this
        self.deadline = float("inf")  # absolute time.monotonic() past which the peer is late
        self.broken: str | None = None
        self.budget: float | None = None  # CPU seconds the agent may spend on each of our questions
        self.ceiling: float | None = None  # wall-clock seconds it may take for one (waiting, sleeping)
        self.depth = 0  # questions being answered right now (nested by call-backs)
        self.received = 0  # bytes read from the other end, in all
        self.bounded = False  # the grader's end: what the other end hands over is limited
        # False in a grading kernel between the grader's probes (``serve_once``): nobody listens
        # then, so a grader's function the student's code kept is refused at once
        self.listening = True
        self.cell_start = (0, 0)  # (proxies, bytes) when the current cell began

    # --- values on the wire ---------------------------------------------------------

    def dump(self, x: Any, depth: int = 0) -> Any:
        t = type(x)
        if t in PLAIN:
            return x
        if t is complex:  # by value too: a probe's Value(1j) must hand the student a complex, not a proxy
            return {"C": [x.real, x.imag]}
        if _is_array(x) and x.dtype.str in ARRAY_DTYPES:  # a subclass or another dtype: a handle, below
            return {"A": [x.dtype.str, list(x.shape), base64.b64encode(x.tobytes()).decode("ascii")]}
        if depth > MAX_DEPTH:
            raise ValueError("too deeply nested to send")
        if t in (list, tuple, set, frozenset):
            tags: dict[type, str] = {list: "L", tuple: "T", set: "S", frozenset: "F"}
            tag = tags[t]
            return {tag: [self.dump(v, depth + 1) for v in x]}
        if t is dict:
            return {"D": [[self.dump(k, depth + 1), self.dump(v, depth + 1)] for k, v in x.items()]}
        if t is Proxy and object.__getattribute__(x, "_link") is self:
            return {"P": object.__getattribute__(x, "_ref")}
        if id(x) in self.stubs:
            return {"P": self.stubs[id(x)]}
        handle = self.handles.get(id(x))
        if handle is None:
            handle = len(self.objects)
            self.objects.append(x)
            self.handles[id(x)] = handle
        return {"H": handle, "fn": isinstance(x, (types.FunctionType, types.MethodType, types.BuiltinFunctionType))}

    def load(self, y: Any, depth: int = 0) -> Any:
        if type(y) in PLAIN:
            return y
        if type(y) is not dict or len(y) not in (1, 2) or depth > MAX_DEPTH:
            self._break("it sent a malformed value")
        ((tag, body),) = [(k, v) for k, v in y.items() if k != "fn"]
        if tag in ("L", "T", "S", "F") and type(body) is list:
            items = [self.load(v, depth + 1) for v in body]
            return {"L": list, "T": tuple, "S": set, "F": frozenset}[tag](items)
        if tag == "C" and type(body) is list and len(body) == 2 and all(type(v) is float for v in body):
            return complex(body[0], body[1])
        if tag == "A":
            return self._load_array(body)
        if tag == "D" and type(body) is list:
            return {self.load(k, depth + 1): self.load(v, depth + 1) for k, v in body}
        if tag == "P" and type(body) is int and 0 <= body < len(self.objects):
            if body < self.revoked:
                raise PermissionError("that object of the grader's was lent for one hidden test, which is over")
            return self.objects[body]
        if tag == "H" and type(body) is int and body >= 0:
            if body not in self.proxies:
                self._within_limits()
                self.proxies[body] = self._wrap(body, bool(y.get("fn")))
            return self.proxies[body]
        self._break("it sent a malformed value")

    def _load_array(self, body: Any) -> numpy.ndarray:
        """An array sent by value, checked before anything is built from it: a dtype of
        ``ARRAY_DTYPES``, a shape of at most ``MAX_RANK`` non-negative ints, and exactly as many
        bytes as they call for, which count against the byte limits. Anything else breaks the
        link: the other end is lying, and what it sends next cannot be trusted either."""
        if type(body) is not list or len(body) != 3:
            self._break("it sent a malformed array")
        dtype, shape, text = body
        if type(dtype) is not str or dtype not in ARRAY_DTYPES:
            self._break("it sent an array of a type that does not travel by value")
        if type(shape) is not list or len(shape) > MAX_RANK or not all(type(d) is int and d >= 0 for d in shape):
            self._break("it sent an array of an impossible shape")
        itemsize = int(dtype[2:])
        if math.prod(max(d, 1) for d in shape) * itemsize > sys.maxsize:  # NumPy's own limit, zeros or not
            self._break("it sent an array of an impossible shape")
        size = math.prod(shape) * itemsize
        self._within_limits(size)
        if type(text) is not str or len(text) != 4 * ((size + 2) // 3):
            self._break("it sent an array whose bytes do not match its shape")
        try:
            raw = binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError):
            self._break("it sent an array whose bytes are not base64")
        if len(raw) != size or (dtype == "|b1" and raw.translate(None, b"\x00\x01")):  # a bool is 0 or 1
            self._break("it sent an array whose bytes do not match its shape")
        import numpy  # here, and not before: only where an array is announced

        array = numpy.empty(shape, numpy.dtype(dtype))  # its own, writeable, C-contiguous memory
        array.reshape(-1).view(numpy.uint8)[:] = numpy.frombuffer(raw, numpy.uint8)
        return array

    def _wrap(self, ref: int, is_function: bool) -> Any:
        """A proxy for the other end's object; on the trusting end, a function of the
        other end becomes a real function, so that it binds as a method when set on a class."""
        proxy = Proxy(self, ref)
        if not (self.trusting and is_function):
            return proxy

        def stub(*args: Any, **kwargs: Any) -> Any:
            return self.ask_call(proxy, args, kwargs)

        self.stubs[id(stub)] = ref
        self.objects.append(stub)  # alive: its id stays its own
        return stub

    def start_cell(self) -> None:
        """The limits per cell count from here."""
        self.cell_start = (len(self.proxies), self.received)

    def _within_limits(self, more: int = 0) -> None:
        """Break the link, for good, when the other end has handed over too much: it ends
        this submission's replay, never the grader nor the other submissions. ``more``: the
        bytes of an array about to be built, counted on top of its text (counted as it was
        read): the array is memory the grader keeps, and a shape that announces more than
        the limits allow is refused before anything is decoded or allocated."""
        if not self.bounded:
            return
        handles, received = len(self.proxies), self.received + more
        cell_handles, cell_bytes = handles - self.cell_start[0], received - self.cell_start[1]
        if cell_handles >= CELL_HANDLES or handles >= TOTAL_HANDLES:
            limit = f"{CELL_HANDLES:,} in one cell" if cell_handles >= CELL_HANDLES else f"{TOTAL_HANDLES:,} in all"
            self._break(f"it handed the grader more objects than the limit ({limit})")
        if cell_bytes > CELL_BYTES or received > TOTAL_BYTES:
            limit = f"{CELL_BYTES >> 20} MB in one cell" if cell_bytes > CELL_BYTES else f"{TOTAL_BYTES >> 20} MB"
            self._break(f"it sent the grader more data than the limit ({limit})")

    def revoke(self) -> None:
        """Take back everything this end has lent so far (the grader calls it when a probe
        returns): the other end's handles to it stop working, so a student's code that kept
        a grader-side function (a correct ``backward`` set on its class for one test, say)
        cannot call it later. What is lent again gets a new handle."""
        self.revoked = len(self.objects)
        self.handles.clear()

    # --- the pipe ---------------------------------------------------------------------

    def _send(self, message: dict) -> None:
        data = memoryview(json.dumps(message, separators=(",", ":")).encode() + b"\n")  # sliced without copies
        while data:
            self._wait(select_write=True)
            try:
                written = os.write(self.write_fd, data)
            except OSError as err:
                self._break(f"the other end is gone ({err.strerror})")
            data = data[written:]

    def _wait(self, select_write: bool = False) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._break("it ran out of time")
        fds: tuple[list[int], list[int], list[int]] = (
            ([], [self.write_fd], []) if select_write else ([self.read_fd], [], [])
        )
        ready = select.select(*fds, min(remaining, 3600.0))
        if not any(ready):
            self._break("it ran out of time")

    def _receive(self) -> dict:
        # A pipe hands over 64 KiB a read: the buffer grows in place and only what is new is
        # searched, so that a message of megabytes costs its length, not its length squared.
        while (end := self.buffer.find(b"\n", self.scanned)) < 0:
            self.scanned = len(self.buffer)
            if len(self.buffer) > MAX_LINE:
                self._break("it sent a message that is too long")
            self._wait()
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                self._break("the other end stopped (it crashed, or was killed)")
            self.received += len(chunk)
            self.buffer += chunk
            self._within_limits()
        line = self.buffer[:end]
        del self.buffer[: end + 1]
        self.scanned = 0
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            self._break("it sent something that is not a message")
        if type(message) is not dict:
            self._break("it sent something that is not a message")
        return message

    def _break(self, why: str) -> NoReturn:
        self.broken = self.broken or why
        raise LinkBroken(self.broken)

    # --- asking -------------------------------------------------------------------------

    def ask(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Have the other end run OPERATIONS[operation](*args, **kwargs); its result or exception."""
        if self.broken:
            raise LinkBroken(self.broken)
        if not self.listening:
            raise PermissionError("that object of the grader's was lent for one hidden test, which is over")
        message = {"op": operation, "args": self.dump(list(args)), "kwargs": self.dump(kwargs)}
        if self.budget is not None:
            message["budget"] = self.budget
            message["ceiling"] = self.ceiling if self.ceiling is not None else self.budget
        self._send(message)
        return self._await_answer(list(args), kwargs)

    def ask_call(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        return self.ask("call", fn, *args, **kwargs)

    def _await_answer(self, args: list, kwargs: dict) -> Any:
        while True:
            message = self._receive()
            if "op" in message:  # the other end calls back while we wait
                self._send(self._serve(message))
                continue
            self._write_back(message.get("back"), args, kwargs)
            if "ok" in message:
                try:
                    return self.load(message["ok"])
                except (TypeError, ValueError, RecursionError):  # an unhashable set member, say
                    self._break("it sent a value that cannot be read")
            error = message.get("error")
            if type(error) is list and len(error) == 2 and all(type(e) is str for e in error):
                _raise(error[0], error[1])
            self._break("it sent an answer that is not one")

    def _write_back(self, back: Any, args: list, kwargs: dict) -> None:
        """Lists, dicts and sets travel by value; what the other end did to its copies is
        done to ours, so that a function that changes its argument in place is seen to."""
        if back is None:
            return
        if type(back) is not list:
            self._break("it sent an answer that is not one")
        for entry in back:
            if type(entry) is not list or len(entry) != 2:
                self._break("it sent an answer that is not one")
            key, value = entry
            original = args[key] if type(key) is int and 0 <= key < len(args) else kwargs.get(key)
            try:
                new = self.load(value)
            except (TypeError, ValueError, RecursionError):
                self._break("it sent a value that cannot be read")
            if type(original) in (list, dict, set) and type(new) is type(original):
                _update(original, new)
            else:
                _refill(original, new)

    # --- answering ----------------------------------------------------------------------

    def _serve(self, message: dict) -> dict:
        self.depth += 1
        budget: Any = message.get("budget")  # a wire value, checked below by exact type (which mypy does not narrow)
        ceiling: Any = message.get("ceiling")
        timed = self.trusting and self.depth == 1 and type(budget) in (int, float) and budget > 0
        if timed:  # the agent stops honest code that runs too long, as a kernel is interrupted
            # CPU time (this process's), so that a busy machine slows it but never stops it;
            # the wall clock only as a ceiling, for code that waits instead of computing
            wall = ceiling if type(ceiling) in (int, float) and ceiling >= budget else budget
            signal.signal(signal.SIGPROF, _too_long)
            signal.signal(signal.SIGALRM, _too_long)
            signal.setitimer(signal.ITIMER_PROF, budget)
            signal.setitimer(signal.ITIMER_REAL, wall)
        try:
            return self._answer(message)
        finally:
            if timed:  # ignored first: a timer firing while the other is disarmed must not raise here
                signal.signal(signal.SIGPROF, signal.SIG_IGN)
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
            self.depth -= 1

    def _answer(self, message: dict) -> dict:
        args: Any = None
        kwargs: Any = None
        arrays: dict[int | str, bytes] = {}
        try:
            operation = message["op"]
            if type(operation) is not str or (operation not in OPERATIONS and operation not in AGENT_ONLY):
                raise PermissionError(f"no operation {operation!r}")
            if not self.trusting and operation not in GUARDED:
                raise PermissionError(f"the grader does not allow {operation!r}")
            args = self.load(message.get("args", {"L": []}))
            kwargs = self.load(message.get("kwargs", {"D": []}))
            if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                self._break("it sent a malformed request")
            arrays = _array_bytes(args, kwargs)
            if not self.trusting:
                self._check_guarded(operation, args)
            if operation == "exec":
                exec(compile(args[0], args[1], "exec"), self.namespace)
                result = None
            elif operation == "interpreter":
                if not args or args[0] not in self.interpreter:
                    raise PermissionError(f"no interpreter function {args[0] if args else ''!r}")
                result = self.interpreter[args[0]](*args[1:])
            elif operation == "global":
                assert self.namespace is not None  # only the agent's (trusting) end serves it, and it has one
                if args[0] in self.namespace:
                    result = self.namespace[args[0]]
                elif hasattr(builtins, args[0]):
                    result = getattr(builtins, args[0])
                else:
                    raise NameError(f"name {args[0]!r} is not defined")
            else:
                result = OPERATIONS[operation](*args, **kwargs)
            return {"ok": self.dump(result), **self._changed(args, kwargs, arrays)}
        except LinkBroken:
            raise
        except BaseException as err:
            if isinstance(err, (KeyboardInterrupt, SystemExit)) and not self.trusting:
                raise
            answer = {"error": [type(err).__name__, str(err)[:2000]]}
            if type(args) is list and type(kwargs) is dict:
                try:
                    answer.update(self._changed(args, kwargs, arrays))
                except Exception:  # noqa: BLE001 - the error is the answer; what changed is extra
                    pass
            return answer

    def _changed(self, args: list, kwargs: dict, arrays: dict[int | str, bytes]) -> dict:
        """The arguments that travelled by value and can change in place, as they are now:
        lists, dicts and sets always; arrays (``arrays``: their bytes before the call) only
        when changed, since they may be large."""
        back = [[i, self.dump(a)] for i, a in enumerate(args) if type(a) in (list, dict, set)]
        back += [[k, self.dump(a)] for k, a in kwargs.items() if type(a) in (list, dict, set)]
        for key, before in arrays.items():
            array = args[key] if type(key) is int else kwargs[key]
            if array.tobytes() != before:
                back.append([key, self.dump(array)])
        return {"back": back} if back else {}

    def _check_guarded(self, operation: str, args: list) -> None:
        """The grader's end: only its own handed-over objects, only public attributes."""
        if not args or type(args[0]) is Proxy:
            raise PermissionError("the grader only answers about its own objects")
        if operation == "getattr" and (len(args) != 2 or type(args[1]) is not str or args[1].startswith("_")):
            raise PermissionError("the grader only lets you read its public attributes")

    def serve_forever(self) -> None:
        """The agent's main loop: answer until the grader closes the pipe."""
        while True:
            try:
                message = self._receive()
            except LinkBroken:
                return
            if "op" not in message:
                return
            self._send(self._serve(message))


def _array_bytes(args: list, kwargs: dict) -> dict[int | str, bytes]:
    """The bytes of the arrays among a request's arguments (they came by value), before the
    call: what tells ``Link._changed`` whether the call changed them in place."""
    found: dict[int | str, bytes] = {i: a.tobytes() for i, a in enumerate(args) if _is_array(a)}
    found.update({k: a.tobytes() for k, a in kwargs.items() if _is_array(a)})
    return found


def interpreter_functions() -> dict[str, Any]:
    """The interpreter's own functions a probe may call (``INTERPRETER``), taken now: called
    where the student's code lives, before any of it has run."""
    import random

    modules = {"sys": sys, "random": random}
    interpreter = {name: getattr(modules[name.split(".")[0]], name.split(".")[1]) for name in INTERPRETER}
    # what the student's code would call the type of one of its objects: a probe that names
    # a type in a message or an expectation means this, never "Proxy"
    interpreter["type.name"] = (lambda of: lambda x: of(x).__name__)(type)
    return interpreter


def serve_once(link: Link) -> None:
    """The grading kernel's end, at a graded test cell: say it is ready, then answer the
    grader's probes until it says they are done (``isolation/live.py``)."""
    if link.broken:
        raise LinkBroken(link.broken)
    link.listening = True
    try:
        link._send({"ready": True})
        link.serve_forever()
    finally:
        link.listening = False


def agent_main() -> None:
    """Run in the student's (sandboxed) process: answer the grader on stdin/stdout."""
    reply = os.dup(1)
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 1)  # what student code prints must not garble the protocol
    os.dup2(quiet, 2)
    sys.path.insert(0, os.getcwd())
    builtins.display = lambda *args, **kwargs: None  # type: ignore[attr-defined]  # IPython's, in a kernel
    interpreter = interpreter_functions()
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    link = Link(0, reply, trusting=True, namespace=namespace)
    link.interpreter = interpreter
    link.serve_forever()
