#!/usr/bin/env bash
# Installs the Debian packages rangefs needs to build, test and run. Idempotent: installs only
# what is missing, and refreshes the package lists first only when something is.
set -euo pipefail

packages=(
  # build
  g++ make cmake pkg-config
  libfuse3-dev libcurl4-openssl-dev libcli11-dev libspdlog-dev libfmt-dev libboost-dev
  libgtest-dev libgmock-dev
  # directory listings: libxml2 parses HTML and XML pages, nlohmann-json JSON ones
  libxml2-dev nlohmann-json3-dev
  # the disk cache (--cache-dir): SQLite holds the index of blocks, xxHash names and checks them
  libsqlite3-dev libxxhash-dev
  # run
  fuse3 ca-certificates
  # tests and the demo: a real web server and real tools
  nginx-light python3 unzip zip openssl
  # the other servers users mount directories from, each with its own listing pages
  apache2 lighttpd caddy
  # the HTTP cache tiers users put in front of an origin (tests/integration/test_cache_tiers):
  # the tests start their own on free loopback ports (nginx proxy_cache + slice is nginx-light)
  varnish squid
  # packaging and its tests (tests/package): dpkg-shlibdeps for the .deb's dependencies,
  # groff and man-db to render and find the man page, bash-completion's loader
  dpkg-dev groff-base man-db bash-completion
  # mount(8), fstab and systemd unit tests: mount, unshare and nsenter, systemd-analyze
  mount util-linux systemd
  # scraping the metrics endpoint; getfattr and setfattr for the extended attributes
  curl attr
  # fuzzing (scripts/fuzz.sh): clang, and its libFuzzer runtime, which clang only recommends
  clang libclang-rt-14-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "setup: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -q
# The web servers' packages start their system services (on port 80) unless policy-rc.d says
# no; the tests start their own instances on free loopback ports and never use those.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  added_policy=1
fi
status=0
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
[ "$added_policy" -eq 1 ] && "${sudo[@]}" rm -f "$policy"
exit "$status"
