"""HCL native syntax -> the typed tree of syntax.py: python-hcl2's parse tree (grammar.py)
walked once, one method per grammar rule (`r_RULE`), every node keeping its file and line."""

from __future__ import annotations

from lark import Token, Tree

from bakeguard.hcl.grammar import parse_tree
from bakeguard.hcl.syntax import (
    Attribute,
    Binary,
    Block,
    Body,
    Call,
    Conditional,
    Expr,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    ObjectExpr,
    Paren,
    Splat,
    Template,
    TupleExpr,
    Unary,
    Var,
)
from bakeguard.hcl.template import from_string_parts, heredoc
from bakeguard.hcl.values import Refusal, number

Node = Tree[Token]


def parse(text: str, filename: str) -> Body:
    return Walk(filename).body(parse_tree(text, filename))


def parse_expression(text: str, at: str, filename: str, line: int) -> Expr:
    """One expression's text (an interpolation in a heredoc or a JSON string), read at its
    line of `filename`."""
    source = "\n" * max(line - 1, 0) + "x = " + " ".join(text.splitlines()) + "\n"
    try:
        body = Walk(filename).body(parse_tree(source, filename))
    except Refusal as e:
        raise Refusal(f"not a valid expression in a template: {text!r}", at) from e
    return body.attributes[0].expr


def _trees(node: Node, *rules: str) -> list[Node]:
    """The node's child trees (of these rules, or all but newlines and comments)."""
    return [
        c
        for c in node.children
        if isinstance(c, Tree) and (c.data in rules if rules else c.data != "new_line_or_comment")
    ]


def _tokens(node: Node) -> list[Token]:
    return [c for c in node.children if isinstance(c, Token)]


def _first(node: Node, rule: str) -> Node | None:
    found = _trees(node, rule)
    return found[0] if found else None


class Walk:
    """The Lark parse tree -> syntax.py nodes."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def parse_expr(self, text: str, at: str, filename: str, line: int) -> Expr:
        return parse_expression(text, at, filename, line)

    def at(self, node: Node | Token) -> str:
        """`file:line` of the node: its first token's line."""
        if isinstance(node, Tree):
            node = next(node.scan_values(lambda v: isinstance(v, Token)), Token("", ""))
        return f"{self.filename}:{node.line or 0}"

    def name(self, node: Node | Token) -> str:
        while isinstance(node, Tree):
            node = node.children[0]
        return str(node)

    def body(self, tree: Node) -> Body:
        if tree.data == "start":
            tree = _trees(tree)[0]
        attrs: list[Attribute] = []
        blocks: list[Block] = []
        for child in _trees(tree):
            if child.data == "attribute":
                name, value = _trees(child)
                attrs.append(Attribute(self.at(child), self.name(name), self.expr(value)))
            elif child.data == "block":
                blocks.append(self.block(child))
        return Body(tuple(attrs), tuple(blocks))

    def block(self, tree: Node) -> Block:
        head = [k for k in _trees(tree) if k.data != "body"]
        inner = _first(tree, "body")
        assert inner is not None  # (the grammar's block always has one)
        labels = tuple(self.label(k) for k in head[1:])
        return Block(self.at(tree), self.name(head[0]), labels, self.body(inner))

    def label(self, node: Node) -> str:
        if node.data != "string":
            return self.name(node)
        parts = self.r_string(node).parts
        if all(isinstance(p, str) for p in parts):
            return "".join(str(p) for p in parts)
        raise Refusal("a block label cannot hold an interpolation", self.at(node))

    def expr(self, node: Node | Token) -> Expr:
        if not isinstance(node, Tree):
            raise Refusal(f"unexpected token {node!s}", self.at(node))
        method = getattr(self, "r_" + str(node.data), None)
        if method is None:
            raise Refusal(f"the construct {node.data!r} is not read offline", self.at(node))
        result: Expr = method(node)
        return result

    # ------------------------------------------------------------------ terms

    def r_expr_term(self, tree: Node) -> Expr:
        if any(t.type == "LPAR" for t in _tokens(tree)):  # ( expression )
            return Paren(self.at(tree), self.expr(_trees(tree)[0]))
        return self.expr(tree.children[0])

    def r_identifier(self, tree: Node) -> Expr:
        return Var(self.at(tree), str(tree.children[0]))

    def r_literal_value(self, tree: Node) -> Expr:
        word = str(tree.children[0])
        return Literal(self.at(tree), None if word == "null" else word == "true")

    def r_int_lit(self, tree: Node) -> Expr:
        return Literal(self.at(tree), number(str(tree.children[0])))

    r_float_lit = r_int_lit

    def r_string(self, tree: Node) -> Template:
        return from_string_parts(self, tree)

    def r_template_string(self, tree: Node) -> Expr:
        return Template(self.at(tree), (str(tree.children[0])[2:-2],))

    def r_heredoc_template(self, tree: Node) -> Expr:
        return heredoc(self, tree, trim=False)

    def r_heredoc_template_trim(self, tree: Node) -> Expr:
        return heredoc(self, tree, trim=True)

    def r_tuple(self, tree: Node) -> Expr:
        return TupleExpr(self.at(tree), tuple(self.expr(k) for k in _trees(tree)))

    def r_object(self, tree: Node) -> Expr:
        items = []
        for elem in _trees(tree, "object_elem"):
            key_node, value = _trees(elem)
            items.append((self.object_key(key_node), self.expr(value)))
        return ObjectExpr(self.at(tree), tuple(items))

    def object_key(self, node: Node) -> Expr:
        """A bare name as an object key is the literal name, not a variable (HCL)."""
        inner = node.children[0]
        if isinstance(inner, Tree) and inner.data == "keyword":
            return Literal(self.at(node), self.name(inner))
        expr = self.expr(inner)
        return Literal(expr.at, expr.name) if isinstance(expr, Var) else expr

    def r_function_call(self, tree: Node) -> Expr:
        names = [self.name(k) for k in _trees(tree, "identifier")]
        args_tree = _first(tree, "arguments")
        args = [self.expr(k) for k in _trees(args_tree)] if args_tree is not None else []
        expand = args_tree is not None and any(t.type == "ELLIPSIS" for t in _tokens(args_tree))
        return Call(self.at(tree), "::".join(names), tuple(args), expand)

    # ------------------------------------------------------------- traversal

    def r_get_attr_expr_term(self, tree: Node) -> Expr:
        obj, step = _trees(tree)
        return GetAttr(self.at(tree), self.expr(obj), self.name(step.children[-1]))

    def r_index_expr_term(self, tree: Node) -> Expr:
        obj, index = _trees(tree)
        return Index(self.at(tree), self.expr(obj), self.index(index))

    def index(self, tree: Node) -> Expr:
        if tree.data == "short_index":  # a.0
            digits = [t for t in _tokens(tree) if t.type != "DOT"]
            return Literal(self.at(tree), number(str(digits[0])))
        return self.expr(_trees(tree)[0])

    def r_attr_splat_expr_term(self, tree: Node) -> Expr:
        return self.splat(tree, attr=True)

    def r_full_splat_expr_term(self, tree: Node) -> Expr:
        return self.splat(tree, attr=False)

    def splat(self, tree: Node, attr: bool) -> Expr:
        obj, splat = _trees(tree)
        steps: list[str | Expr] = [
            self.name(step.children[-1]) if step.data == "get_attr" else self.index(step)
            for step in _trees(splat)
        ]
        return Splat(self.at(tree), self.expr(obj), tuple(steps), attr)

    # ------------------------------------------------------------- operators

    def r_unary_op(self, tree: Node) -> Expr:
        op, operand = tree.children
        return Unary(self.at(tree), str(op).strip(), self.expr(operand))

    def r_binary_op(self, tree: Node) -> Expr:
        left, term = _trees(tree)[:2]
        op_node, right = _trees(term)[:2]
        op = self.name(op_node).strip()  # (the postlexer may have glued a newline onto it)
        return Binary(self.at(tree), op, self.expr(left), self.expr(right))

    def r_conditional(self, tree: Node) -> Expr:
        cond, then, other = _trees(tree)
        return Conditional(self.at(tree), self.expr(cond), self.expr(then), self.expr(other))

    def r_for_tuple_expr(self, tree: Node) -> Expr:
        return self.for_expr(tree, is_object=False)

    def r_for_object_expr(self, tree: Node) -> Expr:
        return self.for_expr(tree, is_object=True)

    def for_expr(self, tree: Node, is_object: bool) -> Expr:
        intro = _first(tree, "for_intro")
        assert intro is not None
        cond_tree = _first(tree, "for_cond")
        exprs = [k for k in _trees(tree) if k.data not in ("for_intro", "for_cond")]
        names = [self.name(k) for k in _trees(intro, "identifier")]
        coll = next(k for k in _trees(intro) if k.data != "identifier")
        key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        cond = self.expr(_trees(cond_tree)[0]) if cond_tree is not None else None
        return ForExpr(
            at=self.at(tree),
            key_var=key_var,
            value_var=value_var,
            coll=self.expr(coll),
            key=self.expr(exprs[0]) if is_object else None,
            value=self.expr(exprs[-1]),
            cond=cond,
            group=any(t.type == "ELLIPSIS" for t in _tokens(tree)),
        )
