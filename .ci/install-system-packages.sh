#!/usr/bin/env bash
# Install the system packages integration and e2e tests need: Orthanc + DICOMweb plugin, dcmtk, Chromium.
# Idempotent: a quick no-op when everything is present. Tests never use Orthanc's default ports (8042/4242):
# each test Orthanc gets its own free ports, so Debian's own orthanc service may keep running.
set -euo pipefail

required=(
  /usr/sbin/Orthanc
  /usr/share/orthanc/plugins/libOrthancDicomWeb.so
  /usr/bin/storescu
  /usr/bin/storescp
  /usr/bin/chromium
  /usr/bin/chromedriver
)
packages=(orthanc orthanc-dicomweb dcmtk chromium chromium-driver)

missing=()
for path in "${required[@]}"; do
  [[ -e "$path" ]] || missing+=("$path")
done

if ((${#missing[@]} == 0)); then
  echo "system packages: all present"
  exit 0
fi

echo "system packages: missing ${missing[*]}; installing ${packages[*]}"
sudo=()
if ((EUID != 0)); then
  sudo=(sudo)
fi
# Do not let the package's own Orthanc service start on install (policy-rc.d 101 = action forbidden), when
# we can arrange that; tests would not use it anyway.
policy=/usr/sbin/policy-rc.d
added_policy=false
if [[ ! -e "$policy" ]] && "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"; then
  added_policy=true
fi
trap 'if [[ $added_policy == true ]]; then "${sudo[@]}" rm -f "$policy"; fi' EXIT

"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"

for path in "${required[@]}"; do
  [[ -e "$path" ]] || { echo "system packages: $path still missing after install" >&2; exit 1; }
done
echo "system packages: installed"
