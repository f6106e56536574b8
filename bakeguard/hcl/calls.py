"""Function calls as bake's HCL makes them: the library's functions (funcs_*.py) with their
argument counts checked, `can` and `try` (which catch bake's own errors, never a refusal of
the offline reading), `convert` (whose second argument is a type), `f(list...)`, and the
definition's `function` blocks (which see their parameters and the file's names only)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

from bakeguard.hcl.syntax import Call, Expr
from bakeguard.hcl.types import convert as convert_type
from bakeguard.hcl.types import parse as parse_type
from bakeguard.hcl.values import EvalError, HclError, Refusal, Value, kind

Fn = Callable[[list[Value]], Value]
# a library function: (fewest arguments, most arguments or None for any number, the function)
Spec = tuple[int, "int | None", Fn]
Scope = Mapping[str, Value]


class UserFunction(NamedTuple):
    name: str
    params: tuple[str, ...]
    variadic: str | None
    result: Expr


class Globals(Protocol):
    """The names outside an expression: bake's variables and top-level attributes, other
    blocks (`target.NAME.ATTR`), the definition's functions."""

    def lookup(self, name: str, at: str) -> Value: ...

    def block(self, kind: str, name: str, attr: str | None, at: str) -> Value: ...

    def function(self, name: str) -> UserFunction | None: ...


class Calls(ABC):
    def __init__(self, globals_: Globals, library: Mapping[str, Spec]) -> None:
        self.globals = globals_
        self.library = library
        self.depth = 0

    @abstractmethod
    def eval(self, e: Expr, scope: Scope) -> Value: ...

    def call(self, e: Call, scope: Scope) -> Value:
        if e.name in ("can", "try"):
            return self.can_try(e, scope)
        if e.name == "convert" and len(e.args) == 2:
            spec = parse_type(e.args[1])
            return self.wrap(lambda: convert_type(self.eval(e.args[0], scope), spec), e)
        args = [self.eval(a, scope) for a in e.args]
        if e.expand and args:
            last = args.pop()
            if not isinstance(last, list):
                raise HclError(f"`...` expands a list, not a {kind(last)}", e.at)
            args += last
        lib = self.library.get(e.name)
        if lib is not None:
            low, high, fn = lib
            if len(args) < low or (high is not None and len(args) > high):
                want = (
                    f"{low}" if high == low else f"{low} to {high if high is not None else 'any'}"
                )
                raise HclError(f"{e.name}(): {want} arguments expected, got {len(args)}", e.at)
            return self.wrap(lambda: fn(args), e)
        user = self.globals.function(e.name)
        if user is None:
            raise Refusal(
                f"a call to the function {e.name}(), which bake's standard library and this "
                "definition's `function` blocks do not define (a newer buildx's function?)",
                e.at,
            )
        return self.user_call(user, args, e)

    def wrap(self, thunk: Callable[[], Value], e: Call) -> Value:
        try:
            return thunk()
        except EvalError as err:
            raise HclError(f"{e.name}(): {err}", e.at) from err

    def user_call(self, f: UserFunction, args: list[Value], e: Call) -> Value:
        if len(args) < len(f.params) or (f.variadic is None and len(args) > len(f.params)):
            raise HclError(f"{f.name}(): {len(f.params)} arguments expected, got {len(args)}", e.at)
        inner: dict[str, Value] = dict(zip(f.params, args, strict=False))
        if f.variadic is not None:
            inner[f.variadic] = args[len(f.params) :]
        self.depth += 1
        try:
            if self.depth > 64:
                raise HclError(f"{f.name}(): calls itself without end", e.at)
            # a function sees its parameters and the file's names, not the caller's
            return self.eval(f.result, inner)
        finally:
            self.depth -= 1

    def can_try(self, e: Call, scope: Scope) -> Value:
        if e.name == "can" and len(e.args) != 1:
            raise HclError("can(): 1 argument expected", e.at)
        last: Exception | None = None
        for arg in e.args:
            try:
                value = self.eval(arg, scope)
            except (HclError, EvalError) as err:
                last = err
                continue
            return True if e.name == "can" else value
        if e.name == "can":
            return False
        raise HclError(f"try(): no expression succeeded (the last: {last})", e.at)
