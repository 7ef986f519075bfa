"""Keep the Julia example in step with the C header (no Julia binary here).

    python3 check_julia.py include/minibatchnmf.h nmf_example.jl

Checks that every function the script ccalls is declared in the header,
that the script's mirrors of the header's structs have the same fields in
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
        "ffi-julia-check: %d functions, %d structs and the enum constants of %s match the header"
        % (len(used), checked_structs, script_path)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
