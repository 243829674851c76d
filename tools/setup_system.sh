#!/usr/bin/env bash
# Installs the Debian packages SpatialForge needs for headless rendering (Mesa EGL, llvmpipe,
# OSMesa fallback); with --browser also Debian's chromium (the viewer's browser test, make test).
# Idempotent: does nothing when the libraries are already present.
set -euo pipefail
need=()
if [ "${1:-}" = "--browser" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
fi
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libEGL.so.1'        || need+=(libegl1)
have_lib 'libGL.so.1'         || need+=(libgl1)
have_lib 'libEGL_mesa.so.0'   || need+=(libegl-mesa0)
[ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] || [ -e /usr/lib/aarch64-linux-gnu/dri/swrast_dri.so ] || need+=(libgl1-mesa-dri)
have_lib 'libOSMesa.so'       || need+=(libosmesa6)
if [ ${#need[@]} -eq 0 ]; then
  echo "setup_system: Mesa EGL/GL/OSMesa libraries${1:+ and chromium} already present"
  exit 0
fi
echo "setup_system: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup_system: need root or sudo to apt-get install ${need[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
