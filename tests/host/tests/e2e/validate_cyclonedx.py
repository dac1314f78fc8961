"""Validate a CycloneDX JSON document against the official schema.

Usage: validate_cyclonedx.py FILE SPEC_VERSION   (e.g. 1.5)

Uses cyclonedx-python-lib's strict JSON validator (the CycloneDX schema
files it bundles, no network), installed in target/pyenv from
tests/requirements.txt. Prints every error and exits 1 on an invalid
document; prints "valid" and exits 0 otherwise.
"""

import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def main() -> int:
    path, version = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        document = f.read()
    validator = JsonStrictValidator(SchemaVersion.from_version(version))
    errors = validator.validate_str(document, all_errors=True)
    if errors:
        for error in errors:
            print(f"invalid: {error}")
        return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
