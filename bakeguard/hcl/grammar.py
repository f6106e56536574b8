"""python-hcl2's own Lark grammar (hcl2/hcl2.lark), loaded straight into Lark: importing the
hcl2 package pulls in its whole transformer and serializer (~150 ms) for nothing here. The Lark
tables are cached in bakeguard's cache folder (~/.cache/bakeguard/hcl), as hcl2 caches them
beside its own package: a pickle, as Lark writes it, in the user's own folder only."""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterator

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from bakeguard.hcl.values import Refusal
from bakeguard.locator import cache_dir

# the binary operators (and `?`) a newline may stand before, continuing the expression
_OPERATORS = frozenset(
    ("DOUBLE_EQ", "NEQ", "LT", "GT", "LEQ", "GEQ", "ASTERISK", "SLASH", "PERCENT",
     "DOUBLE_AMP", "DOUBLE_PIPE", "PLUS", "QMARK")
)  # fmt: skip


class PostLexer:
    """python-hcl2's postlexer (hcl2/postlexer.py): a newline right before a binary operator
    is glued onto the operator, so the expression continues instead of ending there."""

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        pending: Token | None = None
        for token in stream:
            if token.type == "NL_OR_COMMENT":
                if pending is not None:
                    yield pending
                pending = token
                continue
            if pending is not None and token.type in _OPERATORS:
                yield token.update(value=str(pending) + str(token))
            else:
                if pending is not None:
                    yield pending
                yield token
            pending = None
        if pending is not None:
            yield pending


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    spec = importlib.util.find_spec("hcl2")
    if spec is None or not spec.submodule_search_locations:
        raise Refusal("python-hcl2 is not installed (pip install 'python-hcl2>=8.1')")
    grammar = os.path.join(next(iter(spec.submodule_search_locations)), "hcl2.lark")
    if not os.path.exists(grammar):
        raise Refusal("this python-hcl2 has no hcl2.lark grammar (bakeguard needs >= 8.1)")
    folder = os.path.join(os.path.dirname(cache_dir(os.environ)), "hcl")
    cache: str | bool = False
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        cache = os.path.join(folder, "hcl2-lark.cache")
    except OSError:
        pass  # (no cache: the tables are built on every run, slower but right)
    # (no propagate_positions: a node's line is its first token's, found when needed; the
    # positions Lark would copy onto every node cost a third of the parse)
    return Lark.open(grammar, parser="lalr", postlex=PostLexer(), cache=cache)


def parse_tree(text: str, filename: str) -> Tree[Token]:
    """The parse tree of a file's text; a syntax error is a Refusal naming its line."""
    try:
        return _lark().parse(text)
    except UnexpectedInput as e:
        raise Refusal(f"not valid HCL: {str(e).splitlines()[0]}", f"{filename}:{e.line}") from e
    except LarkError as e:
        raise Refusal(f"not valid HCL: {e}", filename) from e
