#!/usr/bin/env python3
"""Validate `fieldgate normalize` output against the canonical-event JSON Schema.

Usage: python3 scripts/check-schema.py SCHEMA NORMALIZE_OUTPUT.ndjson

Every non-null `event` (accepted lines and duplicates) is validated with Draft 2020-12 and a FormatChecker.
Every `problem` of a rejected line must be an RFC 9457 problem document as CONTRACT §1 describes it.
Exits 1 when anything is invalid or when no event was checked.
"""
import json
import sys

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match


def short(message, limit=240):
    return message if len(message) <= limit else message[:limit] + "…"


def schema_errors(validator, event):
    """(json path, message) for each failure, descending into anyOf/oneOf for the most relevant cause."""
    for error in sorted(validator.iter_errors(event), key=lambda e: [str(p) for p in e.path]):
        cause = best_match(error.context) if error.context else error
        yield cause.json_path, short(cause.message)


def problem_errors(problem, http):
    if not isinstance(problem, dict):
        return ["rejected line has no problem object"]
    errors = []
    if not str(problem.get("type", "")).startswith("urn:fieldgate:problem:"):
        errors.append(f"$.problem.type {problem.get('type')!r} does not start with urn:fieldgate:problem:")
    elif problem["type"] != f"urn:fieldgate:problem:{problem.get('code')}":
        errors.append(f"$.problem.type {problem['type']!r} does not end with code {problem.get('code')!r}")
    status = problem.get("status")
    if type(status) is not int or status != http:
        errors.append(f"$.problem.status {status!r} is not the integer HTTP status {http}")
    for key in ("title", "detail", "code"):
        if not isinstance(problem.get(key), str) or not problem[key]:
            errors.append(f"$.problem.{key} is not a non-empty string")
    return errors


def main(schema_path, output_path):
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())

    valid = invalid = problems_ok = problems_bad = 0
    failures = []
    with open(output_path, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError as error:
                invalid += 1
                failures.append(f"line {number}: $: output is not valid JSON ({error})")
                continue
            where = f"line {line.get('line', number)}"
            if line.get("event") is not None:
                errors = list(schema_errors(validator, line["event"]))
                if errors:
                    invalid += 1
                    failures += [f"{where}: {path}: {message}" for path, message in errors]
                else:
                    valid += 1
            if line.get("outcome") == "rejected":
                errors = problem_errors(line.get("problem"), line.get("http"))
                if errors:
                    problems_bad += 1
                    failures += [f"{where}: {message}" for message in errors]
                else:
                    problems_ok += 1

    print(f"schema check: {valid} events valid, {invalid} invalid")
    print(f"problem check: {problems_ok} problems valid, {problems_bad} invalid")
    for failure in failures:
        print("  " + failure)
    if valid + invalid == 0:
        print("schema check: no events were checked", file=sys.stderr)
        return 1
    return 1 if invalid or problems_bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    sys.exit(main(sys.argv[1], sys.argv[2]))
