#!/usr/bin/env python3
"""Print the verdicts of schema/card.k (kcl-lib) and schema/card.schema.json
(jsonschema) on each card file named on the command line, one JSON object per
line: {"file", "kcl", "kcl_error", "json_schema", "json_schema_error"}.
With `--rules` first, of schema/rules.k and schema/rules.schema.json on
rules files instead.

A file that is not JSON at all is refused by both (as it is by ente).
"""
import json
import re
import sys
from pathlib import Path

import jsonschema
import kcl_lib.api as kcl

ROOT = Path(__file__).resolve().parents[2]
RULES = len(sys.argv) > 1 and sys.argv[1] == "--rules"
KCL_SCHEMA = ROOT / "schema" / ("rules.k" if RULES else "card.k")
KCL_TOP = "RuleFile" if RULES else "EntityCard"
JSON_SCHEMA = json.loads(
    (ROOT / "schema" / ("rules.schema.json" if RULES else "card.schema.json")).read_text()
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def kcl_verdict(path: Path):
    api = kcl.API()
    args = kcl.ValidateCodeArgs(
        datafile=str(path), file=str(KCL_SCHEMA), schema=KCL_TOP, format="json"
    )
    try:
        result = api.validate_code(args)
    except Exception as e:  # kcl-lib raises on some parse failures
        return False, ANSI.sub("", str(e)).strip()
    return result.success, ANSI.sub("", result.err_message).strip()


def json_schema_verdict(path: Path):
    try:
        doc = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        return False, f"not JSON: {e}"
    validator = jsonschema.Draft202012Validator(JSON_SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return True, ""
    return False, "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(card)'}: {e.message}" for e in errors
    )


def main():
    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)
    for name in sys.argv[2:] if RULES else sys.argv[1:]:
        path = Path(name)
        k_ok, k_err = kcl_verdict(path)
        j_ok, j_err = json_schema_verdict(path)
        print(json.dumps({
            "file": name,
            "kcl": k_ok,
            "kcl_error": k_err[:2000],
            "json_schema": j_ok,
            "json_schema_error": j_err[:2000],
        }))


if __name__ == "__main__":
    main()
