#!/usr/bin/env python3
"""Check every line of a CloudEvents JSON-lines file against
tests/support/cloudevents.schema.json (formats checked: uri-reference,
date-time). Prints one JSON object: {"lines", "valid", "errors": [first few]}."""
import json
import sys
from pathlib import Path

import jsonschema

SCHEMA = json.loads((Path(__file__).resolve().parent / "cloudevents.schema.json").read_text())
checker = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())

lines = valid = 0
errors = []
ids = set()
for n, line in enumerate(Path(sys.argv[1]).read_text().splitlines(), 1):
    lines += 1
    try:
        event = json.loads(line)
    except ValueError as e:
        errors.append(f"line {n}: not JSON: {e}")
        continue
    problems = [e.message for e in checker.iter_errors(event)]
    if event.get("id") in ids:
        problems.append(f"id {event.get('id')} repeated")
    ids.add(event.get("id"))
    if problems:
        errors.append(f"line {n}: {'; '.join(problems)}")
    else:
        valid += 1
print(json.dumps({"lines": lines, "valid": valid, "errors": errors[:5]}))
