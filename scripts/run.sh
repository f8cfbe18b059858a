#!/usr/bin/env bash
# Installs what is missing, builds, and mounts.
#
#   scripts/run.sh [OPTIONS] URL... MOUNTPOINT   mount those URLs (any rangefs options first)
#   scripts/run.sh                                demo: a loopback nginx serving generated
#                                                 sample files, mounted at ./mnt until Ctrl-C
#
# RANGEFS_DEMO_CHECK=1 makes the demo check itself (unzip -l, a full compare) and exit instead
# of waiting for Ctrl-C; the integration tests run it that way.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/scripts/setup.sh"
"$root/scripts/build.sh" release >&2
binary="$root/build/release/rangefs"

if [ $# -gt 0 ]; then
  exec "$binary" "$@"
fi

www="$root/.demo/www"
mnt="$root/mnt"
mkdir -p "$www" "$mnt"
if grep -qs " $mnt fuse" /proc/mounts; then
  echo "demo: $mnt is already mounted; unmount it first: fusermount3 -u $mnt" >&2
  exit 1
fi

# Sample data, made once: a zip of 2000 small members and a 256 MiB file of random bytes.
python3 - "$www" <<'PY'
import os, sys, zipfile
www = sys.argv[1]
zip_path = os.path.join(www, "sample.zip")
if not os.path.exists(zip_path):
    with zipfile.ZipFile(zip_path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(2000):
            z.writestr(f"docs/part-{i:04d}.txt", f"member {i}\n" * (i % 50 + 1))
    os.rename(zip_path + ".tmp", zip_path)
big_path = os.path.join(www, "big.bin")
if not os.path.exists(big_path):
    with open(big_path + ".tmp", "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    os.rename(big_path + ".tmp", big_path)
PY

server_pid=""
mount_pid=""
cleanup() {
  trap - INT TERM EXIT
  if grep -qs " $mnt fuse" /proc/mounts; then fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || true; fi
  # A SIGTERM that reaches rangefs after the unmount, while it tears down with libfuse's
  # handlers gone, ends it with status 143; under set -e that status must not cut the cleanup
  # short and leave the server running.
  [ -n "$mount_pid" ] && kill "$mount_pid" 2>/dev/null && wait "$mount_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "${port_file:-}" ] && rm -f "$port_file"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_file=$(mktemp)
python3 "$root/scripts/lib/loopback_nginx.py" --root "$www" --port-file "$port_file" >/dev/null &
server_pid=$!
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
[ -s "$port_file" ] || { echo "demo: nginx did not start" >&2; exit 1; }
base="http://127.0.0.1:$(cat "$port_file")"

"$binary" -f "$base/sample.zip" "$base/big.bin" "$mnt" &
mount_pid=$!
for _ in $(seq 100); do grep -qs " $mnt fuse" /proc/mounts && break; sleep 0.1; done
grep -qs " $mnt fuse" /proc/mounts || { echo "demo: the mount did not come up" >&2; exit 1; }

if [ "${RANGEFS_DEMO_CHECK:-0}" = 1 ]; then
  ls -l "$mnt"
  unzip -l "$mnt/sample.zip" | tail -n 1
  cmp "$mnt/big.bin" "$www/big.bin"
  echo "demo: check passed"
  exit 0
fi

cat <<EOT

rangefs demo: nginx on $base serves $www; rangefs mounted it at $mnt.
Try, in another terminal:
  ls -l $mnt
  unzip -l $mnt/sample.zip | tail -n 3          # reads only the central directory
  unzip -p $mnt/sample.zip docs/part-0042.txt
  python3 -m zipfile -l $mnt/sample.zip | head
  time sha256sum $mnt/big.bin $www/big.bin
Press Ctrl-C to unmount and stop the server.
EOT
wait "$mount_pid"
