#!/usr/bin/env python3
"""List C++ functions longer than a limit (default 80 lines).

A heuristic brace scanner, not a parser: a block is a function body when its
'{' follows a ')' (optionally with const/noexcept/override/-> type/initialiser
list) and it is not nested inside another function body (lambdas count
towards their enclosing function). Comments and string literals are skipped.

Usage: long-functions.py [--max N] [--check] DIR...
  --check: exit 1 when a function over the limit is found that is not marked
  with a '// flat table' comment on the line before its body.
"""
import argparse
import pathlib
import re
import sys

HEADER_END = re.compile(r"\)\s*(const|noexcept|override|final|mutable|\s|->\s*[\w:<>,\s*&]+)*$"
                        r"|\)\s*:\s*[\s\S]*$")


def strip_code(text):
    """Replace comments and string/char literals by spaces (keeps newlines)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (j + 1 - i)); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)


def functions(path):
    raw = path.read_text(errors="replace")
    code = strip_code(raw)
    raw_lines = raw.split("\n")
    stack = []  # (is_function, start_line, name)
    last_stmt_start = 0
    line = 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == "{":
            head = code[last_stmt_start:i]
            in_fn = any(s[0] for s in stack)
            is_fn = (not in_fn) and bool(re.search(r"\)[^;{}()]*$", head)) \
                and not re.search(r"\b(if|for|while|switch|catch)\s*\(", head[-200:].split(")")[0] if False else "")
            name = ""
            if is_fn:
                m = re.search(r"([~\w:<>]+)\s*\([^;{}]*\)[^;{}()]*$", head, re.S)
                name = m.group(1) if m else "?"
                if name in ("if", "for", "while", "switch", "catch", "return"):
                    is_fn = False
            stack.append((is_fn, line, name))
            last_stmt_start = i + 1
        elif c == "}":
            if stack:
                is_fn, start, name = stack.pop()
                if is_fn:
                    length = line - start + 1
                    marked = start >= 2 and "flat table" in raw_lines[start - 2] + raw_lines[start - 1]
                    yield name, start, length, marked
            last_stmt_start = i + 1
        elif c == ";":
            last_stmt_start = i + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    bad = 0
    rows = []
    for d in args.dirs:
        for p in sorted(pathlib.Path(d).rglob("*")):
            if p.suffix not in (".cc", ".h", ".cpp", ".hpp"):
                continue
            for name, start, length, marked in functions(p):
                if length > args.max:
                    rows.append((length, f"{p}:{start}", name, marked))
    for length, where, name, marked in sorted(rows, reverse=True):
        tag = " (flat table)" if marked else ""
        print(f"{length:5d}  {where}  {name}{tag}")
        bad += not marked
    if args.check:
        print(f"{bad} function(s) over {args.max} lines")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
