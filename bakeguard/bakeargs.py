"""bake's own arguments, read for what bakeguard needs (targets, flag values) and kept in
order and untouched: a reading that tells targets from flag values without changing them.

bake's flags are those of current buildx (commands/bake.go, commands/build.go's common flags
and the root's --builder/--debug). A flag we do not know stays in its place, untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

# bake's long flags that take a value (also as --flag=value), and those that do not.
BAKE_VALUE_FLAGS = frozenset(
    {
        "--file",
        "--set",
        "--var",
        "--allow",
        "--builder",
        "--call",
        "--list",
        "--metadata-file",
        "--progress",
        "--provenance",
        "--sbom",
        "--policy",
        "--jobs",
    }
)


BAKE_BOOL_FLAGS = frozenset(
    {
        "--load",
        "--push",
        "--print",
        "--no-cache",
        "--pull",
        "--debug",
        "--help",
        "--list-targets",
        "--list-variables",
    }
)


# --check takes no value, but accepts --check=VALUE (cobra NoOptDefVal).
BAKE_OPTIONAL_VALUE_FLAGS = frozenset({"--check"})


SHORT_VALUE = {"f": "--file", "j": "--jobs"}


SHORT_BOOL = {"D": "--debug", "h": "--help"}


TRUE_WORDS = ("1", "true", "yes", "on")


class Item:
    """One bake argument as the user wrote it: a flag with its value token(s), or a target."""

    __slots__ = ("flag", "known", "tokens", "value")

    def __init__(
        self,
        tokens: tuple[str, ...],
        flag: str | None = None,  # canonical long name; None for a positional (target)
        value: str | None = None,
        known: bool = True,
    ) -> None:
        self.tokens, self.flag, self.value, self.known = tokens, flag, value, known

    def __repr__(self) -> str:
        return f"Item({self.tokens!r}, {self.flag!r}, {self.value!r}, {self.known!r})"


# flags whose effect `bake --print` already resolved into the definition, or that a generated
# definition replaces (--provenance/--sbom: every buildx tested folds them into each target's
# printed `attest`, where a compatibility profile may turn them off for one registry)
RESOLVED_BY_PRINT = (
    "--file",
    "--set",
    "--var",
    "--push",
    "--load",
    "--metadata-file",
    "--provenance",
    "--sbom",
)


class BakeArgs:
    """bake's own arguments, in order and untouched, read for what bakeguard needs."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[Item, ...] = ()) -> None:
        self.items = items

    def __repr__(self) -> str:
        return f"BakeArgs({self.argv!r})"

    @property
    def argv(self) -> list[str]:
        return [t for it in self.items for t in it.tokens]

    @property
    def targets(self) -> list[str]:
        return [it.value or "" for it in self.items if it.flag is None and it.known]

    def values(self, flag: str) -> list[str]:
        return [it.value or "" for it in self.items if it.flag == flag]

    def last(self, flag: str) -> str | None:
        vals = self.values(flag)
        return vals[-1] if vals else None

    def flag_set(self, flag: str) -> bool:
        """A bool flag's final value (--push, --push=false, ...)."""
        vals = self.values(flag)
        return bool(vals) and vals[-1].lower() in TRUE_WORDS

    @property
    def unknown(self) -> list[str]:
        return [t for it in self.items if not it.known for t in it.tokens]

    @property
    def passthrough_only(self) -> bool:
        """Invocations that build nothing: bakeguard adds nothing to them, ever."""
        if any(
            self.flag_set(f) for f in ("--print", "--help", "--list-targets", "--list-variables")
        ):
            return True
        if self.values("--list") or self.values("--check"):
            return True
        call = self.last("--call")
        return call is not None and call != "build"

    def without(self, *flags: str) -> BakeArgs:
        return BakeArgs(tuple(it for it in self.items if it.flag not in flags))

    def without_targets(self) -> BakeArgs:
        return BakeArgs(tuple(it for it in self.items if not (it.flag is None and it.known)))

    def generated(self, gen_file: str, meta: str, targets: Sequence[str]) -> list[str]:
        """The arguments of a bake of a definition generated from `bake --print`: the user's
        flags except those the printed definition already resolved, then the generated file
        and its targets."""
        kept = self.without(*RESOLVED_BY_PRINT).without_targets()
        return kept.plus("--file", gen_file, "--metadata-file", meta).argv + list(targets)

    def plus(self, *tokens: str) -> BakeArgs:
        """Append flags (before a `--` terminator if the user wrote one)."""
        extra = parse_bake(list(tokens)).items
        items = list(self.items)
        cut = next((i for i, it in enumerate(items) if it.tokens == ("--",)), len(items))
        return BakeArgs(tuple(items[:cut]) + extra + tuple(items[cut:]))


def parse_bake(argv: Sequence[str]) -> BakeArgs:
    items: list[Item] = []
    i = 0
    rest = False
    while i < len(argv):
        a = argv[i]
        if rest:
            items.append(Item((a,), None, a))
        elif a == "--":
            rest = True
            items.append(Item((a,), "--", None))
        elif a.startswith("--"):
            name, eq, val = a.partition("=")
            if name in BAKE_VALUE_FLAGS:
                if eq:
                    items.append(Item((a,), name, val))
                elif i + 1 < len(argv):
                    items.append(Item((a, argv[i + 1]), name, argv[i + 1]))
                    i += 1
                else:  # bake itself will say the value is missing
                    items.append(Item((a,), name, None))
            elif name in BAKE_BOOL_FLAGS or name in BAKE_OPTIONAL_VALUE_FLAGS:
                items.append(Item((a,), name, val if eq else "true"))
            else:
                items.append(Item((a,), name, val if eq else None, known=False))
        elif a.startswith("-") and len(a) > 1:
            consumed = _short(a, argv[i + 1] if i + 1 < len(argv) else None, items)
            i += consumed
        else:
            items.append(Item((a,), None, a))
        i += 1
    return BakeArgs(tuple(items))


def _short(a: str, nxt: str | None, items: list[Item]) -> int:
    """A pflag shorthand cluster (-D, -f FILE, -fFILE, -f=FILE, -Df FILE). Returns how many
    extra arguments it consumed. Flags are recorded in order; the tokens stay as written."""
    found: list[tuple[str, str | None]] = []
    j, consumed = 1, 0
    while j < len(a):
        c = a[j]
        if c in SHORT_VALUE:
            val = a[j + 1 :]
            if val.startswith("="):
                val = val[1:]
            if not val and nxt is not None:
                val, consumed = nxt, 1
            found.append((SHORT_VALUE[c], val or None))
            break
        if c in SHORT_BOOL:
            found.append((SHORT_BOOL[c], "true"))
            j += 1
            continue
        items.append(Item((a,), a, None, known=False))
        return 0
    tokens = (a, nxt) if consumed and nxt is not None else (a,)
    if len(found) == 1:
        items.append(Item(tokens, found[0][0], found[0][1]))
    else:  # keep the cluster whole: one Item per flag would duplicate its tokens
        for n, (name, value) in enumerate(found):
            items.append(Item(tokens if n == 0 else (), name, value))
    return consumed
