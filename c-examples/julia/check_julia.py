"""Keep the Julia example in step with the C header (no Julia binary here).

    python3 check_julia.py include/minibatchnmf.h nmf_example.jl

Checks that every function the script ccalls is declared in the header,
that each ccall passes as many arguments as the header declares, each a
pointer where the header has a pointer and a scalar of the same kind
(size_t, int/enum, double, bool, uint32_t) where it has a scalar, that the
script's mirrors of the header's structs have the same fields in
the same order with matching types, and that the enum constants it defines
have the header's values.
"""

import re
import sys

# Julia type for each C field type of the mirrored structs.
C_TO_JULIA = {
    "size_t": "Csize_t",
    "double": "Cdouble",
    "bool": "Bool",
    "uint32_t": "UInt32",
    "int": "Cint",
}


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def header_structs(header):
    out = {}
    for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\} \1;", header, re.S):
        fields = []
        for ctype, field in re.findall(r"([\w ]+?)\s+(\w+);", body):
            ctype = ctype.strip()
            ctype = "int" if ctype.startswith("enum ") else ctype
            fields.append((field, ctype))
        out[name] = fields
    return out


def header_functions(header):
    """name -> list of parameter C types, from the declarations."""
    out = {}
    for name, params in re.findall(r"\b(nmf_\w+)\s*\(([^)]*)\)\s*;", header):
        params = params.strip()
        if params in ("", "void"):
            out[name] = []
            continue
        types = []
        for p in params.split(","):
            p = " ".join(p.split())
            if "*" in p:
                types.append("pointer")
            else:
                ctype = p.rsplit(" ", 1)[0].replace("const ", "")
                types.append("int" if ctype.startswith("enum ") else ctype)
        out[name] = types
    return out


def split_top(text):
    """Split at commas outside (), {} and []."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def ccall_signatures(script):
    """(name, [Julia argument types]) of every ccall((:name, lib), Ret, (types...), ...)."""
    out = []
    for m in re.finditer(r"ccall\(\(:(\w+)\s*,\s*\w+\)\s*,", script):
        rest = script[m.end():]
        # Skip the return type, then read the balanced argument-type tuple.
        depth, i = 0, 0
        while i < len(rest) and not (rest[i] == "," and depth == 0):
            depth += rest[i] in "({[" and 1 or (-1 if rest[i] in ")}]" else 0)
            i += 1
        rest = rest[i + 1 :].lstrip()
        if not rest.startswith("("):
            continue
        depth = 0
        for j, ch in enumerate(rest):
            depth += 1 if ch in "({[" else -1 if ch in ")}]" else 0
            if depth == 0:
                break
        out.append((m.group(1), split_top(rest[1:j])))
    return out


# Julia argument type -> the header's kind for it.
def julia_kind(t):
    if t.startswith(("Ptr{", "Ref{")) or t == "Cstring":
        return "pointer"
    return {"Csize_t": "size_t", "Cint": "int", "Cdouble": "double", "Bool": "bool", "UInt32": "uint32_t"}.get(t, t)


def main():
    header_path, script_path = sys.argv[1:3]
    header = strip_comments(open(header_path).read())
    script = open(script_path).read()
    errors = []

    declared = set(re.findall(r"\b(nmf_\w+)\s*\(", header))
    used = sorted(set(re.findall(r"ccall\(\(:(\w+)\s*,", script)))
    if not used:
        errors.append("no ccall found in %s" % script_path)
    for name in used:
        if name not in declared:
            errors.append("%s calls %s, which the header does not declare" % (script_path, name))

    functions = header_functions(header)
    checked_calls = 0
    for name, jl_types in ccall_signatures(script):
        if name not in functions:
            continue
        checked_calls += 1
        c_types = functions[name]
        if len(jl_types) != len(c_types):
            errors.append("%s: ccall passes %d arguments, the header declares %d" % (name, len(jl_types), len(c_types)))
            continue
        for i, (jt, ct) in enumerate(zip(jl_types, c_types)):
            if ct.startswith("struct ") and jt == ct.split()[1]:
                continue  # a struct passed by value
            if julia_kind(jt) != ct:
                errors.append("%s: argument %d is %s in Julia but %s in the header" % (name, i + 1, jt, ct))
    if checked_calls == 0:
        errors.append("no ccall signature could be checked")

    structs = header_structs(header)
    mirrored = re.findall(r"^struct (\w+)\n(.*?)^end", script, re.S | re.M)
    checked_structs = 0
    for name, body in mirrored:
        if name not in structs:
            continue
        checked_structs += 1
        jl = re.findall(r"^\s*(\w+)::(\w+)", body, re.M)
        c = structs[name]
        if [f for f, _ in jl] != [f for f, _ in c]:
            errors.append("struct %s: Julia fields %s != header fields %s" % (name, [f for f, _ in jl], [f for f, _ in c]))
            continue
        for (field, jtype), (_, ctype) in zip(jl, c):
            if C_TO_JULIA.get(ctype) != jtype:
                errors.append("struct %s.%s: Julia %s for C %s" % (name, field, jtype, ctype))
    if checked_structs == 0:
        errors.append("no mirrored struct found")

    values = dict(re.findall(r"\b(NMF_\w+) = (\d+)", header))
    for const, value in re.findall(r"^const (NMF_\w+) = (\d+)", script, re.M):
        if values.get(const) != value:
            errors.append("const %s = %s, header says %s" % (const, value, values.get(const)))

    for e in errors:
        print("ffi-julia-check:", e, file=sys.stderr)
    if errors:
        return 1
    print(
        "ffi-julia-check: %d functions (%d ccall signatures), %d structs and the enum constants of %s match the header"
        % (len(used), checked_calls, checked_structs, script_path)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
