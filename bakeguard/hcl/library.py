"""bake's function library: every function buildx's bake/hclparser/stdlib.go registers (go-cty's
stdlib, go-cty-funcs, hcl's tryfunc/typeexpr, bake's own). `can`, `try` and `convert` take
unevaluated expressions and live in the evaluator; the rest are here by name."""

from __future__ import annotations

from bakeguard.hcl.calls import Spec
from bakeguard.hcl.funcs_coll import FUNCS as COLLECTIONS
from bakeguard.hcl.funcs_misc import FUNCS as MISC
from bakeguard.hcl.funcs_text import FUNCS as TEXT
from bakeguard.hcl.funcs_time import FUNCS as TIME

LIBRARY: dict[str, Spec] = {**TEXT, **COLLECTIONS, **MISC, **TIME}
SPECIAL = ("can", "try", "convert")
NAMES = frozenset((*LIBRARY, *SPECIAL))
