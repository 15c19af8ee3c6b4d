#!/usr/bin/env python3
"""The module graph of src/ must run one way: no two modules import each
other, directly or round a longer cycle.

Edges come from every path a module names, in `use` lines and in code:
`super::x`, `crate::a::b`, `self::x` (a child), resolved to the file that
defines the module. A name re-exported by a facade (`crate::Event`, defined
in `event/`; `super::Overflow` in server/mod.rs, defined in config.rs) is
resolved through that facade's `pub use` lines to its defining module, so
the facades (lib.rs, the mod.rs files that only declare and re-export) do
not make every module depend on every other; a `pub use` line itself is
no import. A `mod.rs` that defines items
of its own, used by its children, shows up as the cycle it is.

Usage: python3 .ci/modgraph.py [src]   (exit 1 and the cycles when any)
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"

# module path (tuple) -> file
files = {}
for dirpath, _, names in os.walk(root):
    for name in names:
        if not name.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(dirpath, name), root)
        parts = rel[:-3].split(os.sep)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        files[tuple(parts)] = os.path.join(dirpath, name)


def code(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"//[^\n]*", "", text)  # comments and doc comments
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    return text


sources = {m: code(f) for m, f in files.items()}

# re-exports of facades: (module, name) -> module path named by the `pub use`
reexports = {}
for mod, text in sources.items():
    for m in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
        spec = re.sub(r"\s+", " ", m.group(1)).replace(":: ", "::").replace(" ::", "::").replace("{ ", "{").replace(" }", "}")
        # a::b::{C, D as E} or a::b::C
        head, _, tail = spec.partition("::{")
        if tail:
            prefix = head.split("::")
            names = tail.rstrip("}").split(",")
        else:
            prefix = spec.split("::")[:-1]
            names = [spec.split("::")[-1]]
        for n in names:
            if not n:
                continue
            src_name, _, alias = n.partition(" as ")
            reexports[(mod, (alias or src_name).strip())] = (prefix, src_name.strip())


def resolve(mod, parts):
    """The module a path (as written inside `mod`) leads to, or None."""
    parts = list(parts)
    if not parts:
        return None
    if parts[0] == "crate":
        base, parts = (), parts[1:]
    elif parts[0] == "super":
        base = mod[:-1]
        parts = parts[1:]
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
    elif parts[0] == "self":
        base, parts = mod, parts[1:]
    elif mod + (parts[0],) in files:
        base = mod  # a child module named without `self::` (2018 paths)
    else:
        return None  # std, other crates, or a local name
    cur = base
    for i, p in enumerate(parts):
        nxt = cur + (p,)
        if nxt in files:
            cur = nxt
            continue
        # an item: maybe a facade's re-export
        if (cur, p) in reexports:
            prefix, name = reexports[(cur, p)]
            target = resolve(cur, prefix)
            if target is not None:
                deeper = resolve(target, ["self", name]) if (target + (name,)) in files else target
                # follow chains of re-exports
                if (target, name) in reexports and target != cur:
                    return resolve(target, ["self", name]) or target
                return deeper
        return cur
    return cur


PATH = re.compile(r"\b(?:crate|super|self)(?:::\w+)+")
USE_GROUP = re.compile(r"\buse\s+((?:crate|super|self)(?:::\w+)*)::\{([^;]*)\};", re.S)

edges = {m: set() for m in files}
for mod, text in sources.items():
    # A facade's `pub use` publishes a child's items; it imports nothing the
    # facade's own code needs (those names are resolved through `reexports`).
    text = re.sub(r"pub(?:\([^)]*\))?\s+use\s+[^;]+;", "", text)
    paths = [p.group(0).split("::") for p in PATH.finditer(text)]
    children = [m[-1] for m in files if m[:-1] == mod and len(m) == len(mod) + 1]
    for c in children:
        for p in re.finditer(r"(?<![\w:])" + c + r"(?:::\w+)+", text):
            paths.append(p.group(0).split("::"))
        for g in re.finditer(r"\buse\s+" + c + r"((?:::\w+)*)::\{([^;]*)\};", text, re.S):
            prefix = [c] + [x for x in g.group(1).split("::") if x]
            for item in [x.strip() for x in g.group(2).split(",")]:
                item = re.split(r"\bas\b", item)[0].strip()
                paths.append(prefix if item == "self" else prefix + item.split("::"))
    for g in USE_GROUP.finditer(text):
        prefix = g.group(1).split("::")
        for item in [x.strip() for x in g.group(2).split(",")]:
            item = re.split(r"\bas\b", item)[0].strip()
            if item and item != "self" and "{" not in item:
                paths.append(prefix + item.split("::"))
            elif item == "self":
                paths.append(prefix)
    for p in paths:
        target = resolve(mod, p)
        if target is None or target == mod:
            continue
        # a parent naming its own child module (mod declarations) is not
        # an import of anything the child needs from it
        if target[: len(mod)] == mod and len(mod) < len(target):
            pass
        edges[mod].add(target)

# cycles: strongly connected components with more than one module
index, low, stack, on, comps = {}, {}, [], set(), []
counter = [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        comps.append(comp)


sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        strong(v)

name = lambda m: "::".join(("crate",) + m)
cycles = [c for c in comps if len(c) > 1]
if "-v" in sys.argv or "--edges" in sys.argv:
    for m in sorted(edges):
        print(f"{name(m)} -> {', '.join(sorted(name(t) for t in edges[m])) or '-'}")
if cycles:
    for c in cycles:
        members = set(c)
        print("cycle:", ", ".join(sorted(name(m) for m in c)))
        for m in sorted(c):
            inner = sorted(name(t) for t in edges[m] if t in members)
            print(f"  {name(m)} -> {', '.join(inner)}")
    sys.exit(1)
print(f"module graph of {root}/: {len(files)} modules, no cycle")
