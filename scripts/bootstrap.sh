#!/usr/bin/env bash
# Install what Whistle needs on Debian 12, then the pinned Python packages in .venv.
#   bash scripts/bootstrap.sh run    # PostgreSQL 15 + PostGIS 3, Chromium and CJK fonts (PDF reports)
#   bash scripts/bootstrap.sh test   # the same, plus chromium-driver for the browser tests
# System packages are installed only when missing, and only as root; otherwise this stops
# and names the exact command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

purpose=${1:-run}
python=${PYTHON:-python3}
# Chromium and the CJK fonts print the reports to PDF; the driver runs the browser tests.
packages=(postgresql-15-postgis-3 chromium fonts-noto-cjk)
if [ "$purpose" = test ]; then
  packages+=(chromium-driver)
fi
# Debian's python3 cannot make a virtual environment without python3-venv.
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Whistle needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv"
  "$python" -m venv .venv
fi
# The run-time packages always; the test tools (pytest, Selenium, ruff) only for the tests.
files=(requirements.txt)
if [ "$purpose" = test ]; then
  files+=(requirements-test.txt)
fi
for file in "${files[@]}"; do
  stamp=".venv/.${file%.txt}.sha256"
  wanted=$(cat requirements.txt "$file" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "installing the pinned Python packages ($file)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r "$file"
    echo "$wanted" > "$stamp"
  fi
done
