#!/usr/bin/env bash
# Regenerate docs/report.png: a demo year imported through the real commands, the annual HTML
# report, rendered by headless Chromium (apt-get install chromium). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SVARFRIST_DATABASE_URL="sqlite:///$work/demo.db"
export SVARFRIST_CONFIG="$work/svarfrist.toml"
printf 'population = 40368\ndefault_recipient = "borgervejleder@fredericia.dk"\n' > "$SVARFRIST_CONFIG"
.venv/bin/python docs/demo_year.py "$work/year.csv"
.venv/bin/svarfrist init >/dev/null
.venv/bin/svarfrist import "$work/year.csv" --now 2026-03-15T12:00 >/dev/null
.venv/bin/svarfrist report --annual --from 2025-01-01 --to 2025-12-31 --now 2026-03-15T12:00 \
    --format html --output "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1100,1700 \
    --screenshot="$PWD/docs/report.png" "file://$work/report.html" 2>/dev/null
echo "wrote docs/report.png"
