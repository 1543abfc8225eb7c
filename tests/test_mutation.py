"""Mutant generation of course_grader.measuring.mutation: fast, no kernels except the one small
end-to-end test at the bottom."""

import ast
import difflib
import textwrap

import pytest

from course_grader.layout import ROOT, Course
from course_grader.measuring import mutation
from course_grader.measuring.mutation import Mutant, Report, Result, mutants

pytestmark = pytest.mark.unit

CELL = textwrap.dedent(
    '''\
    @attach(Value)
    def f(self, other):
        """Docstrings are never mutated."""
        # a comment that must survive text edits
        x = self.data + other.data * 2
        if x >= 0 and not self.flag:
            self.grad += 1e-10
        return Value(x, (self, other), "f")
    '''
)


def _changes(original: str, mutated: str) -> list[str]:
    diff = difflib.unified_diff(original.splitlines(), mutated.splitlines(), lineterm="", n=0)
    return [ln for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def _afters(source: str, operator: str) -> set[tuple[str, str]]:
    return {(m.before, m.after) for m in mutants("c", source) if m.operator == operator}


def test_every_operator_fires_where_it_applies():
    assert {m.operator for m in mutants("c", CELL)} == set(mutation.OPERATORS) - {"unary-minus-removed"}
    assert ("-x", "x") in _afters("def g(x):\n    return -x\n", "unary-minus-removed")


def test_binary_and_unary_operators():
    assert _afters("def g(a, b):\n    return a ** b\n", "binary-operator") == {("a ** b", "a * b")}
    assert _afters("def g(a, b):\n    return a / b - b\n", "binary-operator") == {
        ("a / b - b", "a / b + b"),
        ("a / b", "a * b"),
    }
    assert ("other.data", "-other.data") in _afters(CELL, "unary-minus-added")


def test_augmented_assignment_comparison_boolean_not():
    assert _afters(CELL, "augmented-assignment") == {
        ("self.grad += 1e-10", "self.grad = 1e-10"),
        ("self.grad += 1e-10", "self.grad -= 1e-10"),
    }
    assert _afters(CELL, "comparison") == {("x >= 0", "x > 0")}
    assert _afters("def g(a, b):\n    return a is b or a < b\n", "comparison") == {
        ("a is b", "a is not b"),
        ("a < b", "a <= b"),
    }
    assert _afters(CELL, "boolean-operator") == {("x >= 0 and not self.flag", "x >= 0 or not self.flag")}
    assert _afters(CELL, "not-removed") == {("not self.flag", "self.flag")}


def test_constants():
    afters = {after for before, after in _afters(CELL, "constant") if before == "2"}
    assert afters == {"3", "0", "-2"}
    afters = {after for before, after in _afters(CELL, "constant") if before == "1e-10"}
    assert afters == {"1.0000000001", "0", "-1e-10", "1e-09"}
    # zero has only c + 1; a negative literal is one constant, and duplicates are dropped
    assert {a for b, a in _afters("def g(x):\n    return x * -1 + 0\n", "constant")} == {"0", "1"}


def test_strings_skip_docstrings_and_f_string_parts():
    strings = _afters(CELL, "string")
    assert strings == {('"f"', "''")}
    assert _afters('def g(x):\n    return f"x={x}!"\n', "string") == {('f"x={x}!"', "''")}


def test_deletions_and_return_none():
    deleted = [m for m in mutants("c", CELL) if m.operator == "statement-deleted"]
    assert [m.line for m in deleted] == [5, 6, 7, 8]  # not the def, not the docstring
    assert all(m.after == "pass" for m in deleted)
    (gone,) = [m for m in mutants("c", CELL) if m.operator == "function-deleted"]
    assert gone.source.strip() == "pass"  # the decorator goes with it: the method is never attached
    assert _afters(CELL, "return-none") == {('return Value(x, (self, other), "f")', "return None")}
    method = "class A:\n    def m(self):\n        return 1\n"
    assert [m.source for m in mutants("c", method) if m.operator == "function-deleted"] == ["class A:\n    pass\n"]


def test_name_swap_uses_parameters_in_scope():
    source = "def g(self, other):\n    def inner():\n        return self.data\n    return inner\n"
    assert _afters(source, "name-swap") == {("self", "other")}


def test_mutants_are_single_edits_that_compile_and_are_distinct():
    found = mutants("c", CELL)
    assert len({m.source for m in found}) == len(found)
    for m in found:
        assert m.source != CELL
        compile(m.source, "mutant", "exec")
        changes = _changes(CELL, m.source)
        assert len([c for c in changes if c.startswith("+")]) == 1, m.describe()
        if m.operator != "function-deleted":
            assert "# a comment that must survive text edits" in m.source


def test_deleted_elif_keeps_its_else():
    source = "def g(x):\n    if x:\n        x = 1\n    elif x is None:\n        x = 2\n    return x\n"
    (m,) = [m for m in mutants("c", source) if m.operator == "statement-deleted" and m.before.startswith("elif")]
    assert m.source == source.replace("elif x is None:\n        x = 2", "else: pass")


def test_precedence_is_kept_by_parenthesising():
    (m,) = [m for m in mutants("c", "def g(x):\n    return x ** 2\n") if m.after == "-x"]
    assert ast.dump(ast.parse(m.source).body[0].body[0].value.left) == ast.dump(ast.parse("-x", mode="eval").body)


def test_equivalent_after_unparse_is_skipped_and_non_python_has_none():
    assert mutants("c", "def g():\n    pass\n") == []
    assert mutants("c", "%matplotlib inline\n") == []


def test_real_solution_cells_give_clean_mutants():
    for milestone in Course.at(ROOT).present():
        answers, found, skipped = mutation.mutants_of(milestone, ROOT)
        assert found and not skipped
        for m in found:
            compile(m.source, m.describe(), "exec")
            assert len([c for c in _changes(answers[m.cell], m.source) if c.startswith("+")]) == 1


def test_sample_is_seeded_and_ordered():
    found = mutants("c", CELL)
    picked = mutation.sample(found, 5, seed=3)
    assert picked == mutation.sample(found, 5, seed=3)
    assert [found.index(m) for m in picked] == sorted(found.index(m) for m in picked)
    assert mutation.sample(found, None) == found


def test_report_lists_survivors_and_score():
    m = Mutant("cell_a", "constant", 3, 5, "1", "2", "x = 2")
    results = [Result(m, 23.0), Result(m, 21.0), Result(m, None, "boom")]
    text = Report("m1", 23.0, results, 1.0).render()
    assert "cell_a line 3:5 [constant] 1 → 2" in text
    assert text.splitlines()[-1] == "mutation score: 2/3 killed (66.7%)"


@pytest.mark.slow
@pytest.mark.skipif("m1_value" not in Course.at(ROOT).present(), reason="needs the m1_value milestone")
def test_end_to_end_kills_an_obvious_mutant():
    # one worker, one mutant: the unmutated run plus one more kernel keeps this quick
    report = mutation.run("m1_value", ROOT, jobs=1, cells=["value_exp"], operators=["function-deleted"])
    assert report.total == 1
    assert report.killed == 1, report.render()
    assert report.render().splitlines()[-1] == "mutation score: 1/1 killed (100.0%)"
