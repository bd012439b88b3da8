#!/usr/bin/env bash
# CI for tgc-{{name}}: build and install the wheel, run its tests, the conformance suite (keeping the reports
# conformance.json, conformance.html as artifacts) and the capability validator. Needs a C compiler and CMake >= 3.18.
set -euo pipefail
cd "$(dirname "$0")"
command -v tgc-sdk >/dev/null || python3 -m pip install -q tgc-sdk
python3 -m pip install -q .
python3 -m pytest -q tests
tgc-sdk conformance {{name}} --expect expectations.json --json conformance.json --html conformance.html
tgc-sdk validate {{name}}
