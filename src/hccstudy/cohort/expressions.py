"""Boolean expressions over a table, for the user's own eligibility criteria (``eligibility.extra``).

An expression is a small, safe language read with Python's parser and then checked against a
whitelist, never executed as code:

* column names of the derived patient table (``age``, ``child_pugh_class``, ``first_haic_date``...),
  numbers, quoted text, ``true``/``false``;
* comparisons ``== != < <= > >=`` (chained: ``18 <= age <= 80``), ``in`` / ``not in`` a list of values
  (``child_pugh_class in ['A', 'B']``);
* ``and``, ``or``, ``not``, parentheses; arithmetic ``+ - * / // % **``;
* ``isna(column)`` and ``notna(column)``.

Nothing else: no attribute access, no other calls, no ``@`` locals, no ``&``/``|``/``~`` (whose
precedence differs from ``and``/``or``/``not`` and is a common trap).  A date column compared with
quoted text reads the text as an ISO date (``first_haic_date >= '2019-01-01'``).

Missing values follow three-valued logic, as SQL's WHERE: a comparison with a missing value is
unknown; ``x and y`` is false when either is false, ``x or y`` true when either is true, otherwise
unknown if either is; ``not unknown`` is unknown.  A patient whose expression is unknown does not
meet it (fails the criterion): a missing value never lets a patient in silently.  Write
``isna(afp) or afp < 400`` to keep patients with a missing AFP.

The evaluation is vectorised: each node is computed once for the whole table.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

_CMP = {ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less, ast.LtE: np.less_equal,
        ast.Gt: np.greater, ast.GtE: np.greater_equal}
_ARITH = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
          ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power}
_HELPERS = ("isna", "notna")
_WORDS = {"true": True, "false": False, "True": True, "False": False}


class ExpressionError(ValueError):
    """An expression that cannot be read or evaluated; the message says why in the user's terms."""


def _parse(text: str) -> ast.expr:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("give a boolean expression, e.g. \"age >= 18 and age <= 80\"")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        at = f", at character {exc.offset}" if exc.offset and exc.offset <= len(text.strip()) else ""
        raise ExpressionError(f"not a valid expression ({exc.msg}{at})") from exc
    return tree.body


def _check(node: ast.AST) -> None:
    """Refuse every construct outside the whitelist (module docstring)."""
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise ExpressionError("use 'not' instead of '~'")
        _check(node.operand)
    elif isinstance(node, ast.Compare):
        _check(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple | ast.Set) or not all(
                        isinstance(e, ast.Constant) and isinstance(e.value, int | float | str) for e in right.elts):
                    raise ExpressionError("'in' needs a list of values, e.g. child_pugh_class in ['A', 'B']")
            elif type(op) in _CMP:
                _check(right)
            else:
                raise ExpressionError(f"the comparison {type(op).__name__!r} is not allowed (use == != < <= > >= in)")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            word = {ast.BitAnd: "and", ast.BitOr: "or"}.get(type(node.op))
            raise ExpressionError(f"use '{word}'" if word else f"the operator {type(node.op).__name__!r} is not allowed")
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _HELPERS and len(node.args) == 1
                and not node.keywords and isinstance(node.args[0], ast.Name)):
            raise ExpressionError("the only functions are isna(column) and notna(column)")
    elif isinstance(node, ast.Name):
        pass
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str):  # bool is an int
            raise ExpressionError(f"{node.value!r} is not a value an expression can use")
    else:
        what = {ast.Attribute: "attribute access ('.')", ast.Subscript: "indexing ('[...]')"}.get(type(node))
        raise ExpressionError(f"{what or type(node).__name__} is not allowed in an expression")


def columns_of(text: str) -> list[str]:
    """The column names an expression uses, in order of appearance (after checking its syntax)."""
    node = _parse(text)
    _check(node)
    names: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id not in _WORDS and n.id not in _HELPERS and n.id not in names:
            names.append(n.id)
    return names


def check_expression(text: str) -> None:
    """Raise :class:`ExpressionError` unless ``text`` is a valid expression (syntax and whitelist)."""
    columns_of(text)


@dataclass(frozen=True)
class _Value:
    kind: str          # "bool", "num", "text", "time"
    values: np.ndarray
    missing: np.ndarray


def _column(df: pd.DataFrame, name: str) -> _Value:
    if name not in df.columns:
        close = difflib.get_close_matches(name, [str(c) for c in df.columns], n=1)
        raise ExpressionError(f"unknown column {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    s = df[name]
    missing = s.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(s.dtype):
        return _Value("bool", pd.array(s, dtype="boolean").to_numpy(dtype=bool, na_value=False), missing)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return _Value("num", pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan), missing)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return _Value("time", s.to_numpy(dtype="datetime64[ns]"), missing)
    return _Value("text", s.astype(object).where(~missing, "").to_numpy(dtype=object), missing)


def _constant(v, n: int) -> _Value:
    if isinstance(v, bool):
        return _Value("bool", np.full(n, v), np.zeros(n, dtype=bool))
    if isinstance(v, int | float):
        return _Value("num", np.full(n, float(v)), np.zeros(n, dtype=bool))
    return _Value("text", np.full(n, v, dtype=object), np.zeros(n, dtype=bool))


def _as_time(v: _Value) -> _Value:
    if v.kind == "time":
        return v
    if v.kind == "text" and not v.missing.any() and len(set(v.values)) <= 1:
        text = v.values[0] if len(v.values) else "1970-01-01"
        try:
            t = pd.Timestamp(text)
        except ValueError as exc:
            raise ExpressionError(f"{text!r} is not a date (write dates as 'YYYY-MM-DD')") from exc
        return _Value("time", np.full(len(v.values), t.to_datetime64()), v.missing)
    raise ExpressionError("a date can be compared only with another date or a quoted date 'YYYY-MM-DD'")


def _compare(op: ast.cmpop, a: _Value, b: _Value, where: str) -> _Value:
    if "time" in (a.kind, b.kind):
        a, b = _as_time(a), _as_time(b)
    elif {a.kind, b.kind} == {"bool", "num"}:
        a = _Value("num", a.values.astype(float), a.missing) if a.kind == "bool" else a
        b = _Value("num", b.values.astype(float), b.missing) if b.kind == "bool" else b
    elif a.kind != b.kind:
        kinds = {"num": "a number", "text": "text", "bool": "true/false"}
        raise ExpressionError(f"{where}: compares {kinds[a.kind]} with {kinds[b.kind]}")
    missing = a.missing | b.missing
    if a.kind == "text" and type(op) not in (ast.Eq, ast.NotEq):
        raise ExpressionError(f"{where}: text can be compared only with == or != (or 'in')")
    with np.errstate(invalid="ignore"):
        out = _CMP[type(op)](a.values, b.values)
    return _Value("bool", np.asarray(out, dtype=bool) & ~missing, missing)


def _eval(node: ast.AST, df: pd.DataFrame) -> _Value:
    n = len(df)
    where = ast.unparse(node)
    if isinstance(node, ast.Constant):
        return _constant(node.value, n)
    if isinstance(node, ast.Name):
        if node.id in _WORDS and node.id not in df.columns:
            return _constant(_WORDS[node.id], n)
        return _column(df, node.id)
    if isinstance(node, ast.Call):
        col = _column(df, node.args[0].id)
        isna = col.missing if node.func.id == "isna" else ~col.missing
        return _Value("bool", isna.copy(), np.zeros(n, dtype=bool))
    if isinstance(node, ast.BoolOp):
        parts = [_bool(_eval(v, df), ast.unparse(v)) for v in node.values]
        if isinstance(node.op, ast.And):
            false = np.logical_or.reduce([~p.values & ~p.missing for p in parts])
            missing = ~false & np.logical_or.reduce([p.missing for p in parts])
            return _Value("bool", ~false & ~missing, missing)
        true = np.logical_or.reduce([p.values & ~p.missing for p in parts])
        missing = ~true & np.logical_or.reduce([p.missing for p in parts])
        return _Value("bool", true, missing)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, df)
        if isinstance(node.op, ast.Not):
            v = _bool(v, ast.unparse(node.operand))
            return _Value("bool", ~v.values & ~v.missing, v.missing)
        if v.kind != "num":
            raise ExpressionError(f"{where}: a sign needs a number")
        return _Value("num", -v.values if isinstance(node.op, ast.USub) else v.values, v.missing)
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, df), _eval(node.right, df)
        if a.kind != "num" or b.kind != "num":
            raise ExpressionError(f"{where}: arithmetic needs numbers")
        with np.errstate(all="ignore"):
            out = _ARITH[type(node.op)](a.values, b.values)
        missing = a.missing | b.missing | ~np.isfinite(out)
        return _Value("num", np.where(missing, np.nan, out), missing)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, df)
        result = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                allowed = [e.value for e in right_node.elts]
                vals = left.values if left.kind != "bool" else left.values.astype(float)
                hit = pd.Series(vals, dtype=object).isin(allowed).to_numpy(dtype=bool)
                if isinstance(op, ast.NotIn):
                    hit = ~hit
                step = _Value("bool", hit & ~left.missing, left.missing.copy())
                right = left
            else:
                right = _eval(right_node, df)
                step = _compare(op, left, right, where)
            if result is None:
                result = step
            else:
                missing = (result.missing | step.missing) & ~(~result.values & ~result.missing) & \
                    ~(~step.values & ~step.missing)
                result = _Value("bool", result.values & step.values & ~missing, missing)
            left = right
        return result
    raise ExpressionError(f"{where}: not allowed")  # unreachable after _check


def _bool(v: _Value, where: str) -> _Value:
    if v.kind != "bool":
        raise ExpressionError(f"{where!r} is not true/false (it is {'a number' if v.kind == 'num' else v.kind}); "
                              "compare it, e.g. age >= 18")
    return v


def evaluate(text: str, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(met, undecided) per row of ``df``: ``met`` is true where the expression is true; ``undecided``
    where it is unknown because of a missing value (then ``met`` is false).  A bad expression, an
    unknown column or a result that is not true/false raises :class:`ExpressionError`."""
    node = _parse(text)
    _check(node)
    v = _bool(_eval(node, df), ast.unparse(node))
    return v.values & ~v.missing, v.missing.copy()
