#!/usr/bin/env bash
# Validate Contracts/openapi.yaml against the OpenAPI 3.1 specification (openapi-spec-validator).
# Usage: scripts/check-openapi.sh   (from anywhere; runs from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
    python3 -m pip install -q openapi-spec-validator
fi

python3 -m openapi_spec_validator Contracts/openapi.yaml
