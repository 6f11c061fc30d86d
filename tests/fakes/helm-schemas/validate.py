#!/usr/bin/env python3
"""validate.py SCHEMA FILE: FILE is what `helm ... -o json` printed on stdout. Checks it is
exactly one compact JSON value and a newline, as Go's json.Encoder writes it (no spaces,
<, > and & escaped), and that it satisfies SCHEMA (a file of this directory, derived from
shared/ref/helm-cli.md section 3). Needs python3-jsonschema (Debian's: run it with
/usr/bin/python3). Exit 0 when valid; else 1 and the reason on stderr."""
import json
import sys

import jsonschema


def go_json(obj):
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        s = s.replace(a, b)
    return s


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n") or text.count("\n") != 1:
        print(f"{sys.argv[2]}: not exactly one line ending in a newline", file=sys.stderr)
        return 1
    try:
        obj = json.loads(text)
    except ValueError as e:
        print(f"{sys.argv[2]}: not JSON: {e}", file=sys.stderr)
        return 1
    if go_json(obj) + "\n" != text:
        print(f"{sys.argv[2]}: not in Go's compact encoding", file=sys.stderr)
        return 1
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(obj), key=lambda e: list(e.path))
    for e in errors[:5]:
        print(f"{sys.argv[2]}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message}",
              file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
