"""Mounting the way Linux users mount: `mount -t fuse.rangefs`, an fstab line (a private one,
through `mount -T FILE`), and the README's fstab line and systemd mount unit, all through the
real mount(8) and libfuse's mount.fuse3 helper, against nginx on loopback.

mount(8) clears PATH, so mount.fuse3's shell finds `rangefs` only on the shell's default PATH:
each test runs in a private mount namespace (mount_namespace.py) where the binary under test
is bound there. Nothing outside the namespace changes, and whatever a test leaves mounted
goes with it."""

import configparser
import errno
import os
import re
import shutil
import subprocess
import unittest

import harness
import mount_namespace
from harness import KiB, MiB

FILE_SIZE = 3 * MiB + 12345
README = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                       "README.md"))
MOUNT_BOUND = 60.0  # seconds for a mount(8) run: a probe, a mount, a daemon


def readme_code_blocks() -> list[str]:
    with open(README) as f:
        text = f.read()
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)


def readme_systemd_unit() -> tuple[str, str]:
    """(file name, text) of the README's example mount unit."""
    for block in readme_code_blocks():
        first = block.splitlines()[0]
        if first.startswith("# /etc/systemd/system/") and first.endswith(".mount"):
            return os.path.basename(first[2:]), block
    raise AssertionError("README.md has no ```ini block starting with "
                         "'# /etc/systemd/system/NAME.mount'")


def readme_fstab_line() -> list[str]:
    """The fields of the README's example fstab line."""
    lines = [line for block in readme_code_blocks() for line in block.splitlines()
             if len(line.split()) == 6 and line.split()[2] == "fuse.rangefs"]
    if len(lines) != 1:
        raise AssertionError(f"expected one fstab line of type fuse.rangefs in README.md, "
                             f"found {lines}")
    return lines[0].split()


def fstab_escape(field: str) -> str:
    """fstab(5) fields escape blanks and backslashes as octal."""
    return (field.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011"))


class MountHelperTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = mount_namespace.require_tools()
        cls.sha = harness.class_data_dir(cls, "rangefs-mnthelper-data-",
                                         {"disk.img": FILE_SIZE})["disk.img"]
        with open(os.path.join(cls.data, "disk.img"), "rb") as f:
            cls.bytes = f.read()
        cls.server = harness.LoopbackNginx(cls.data)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)
        cls.url = cls.server.url("disk.img")

    def namespace(self) -> mount_namespace.MountNamespace:
        ns = mount_namespace.MountNamespace()
        self.addCleanup(ns.cleanup)
        ns.bind_first_on_default_path(self.binary)
        return ns

    # ------------------------------------------------------------------ shared checks
    def assert_serves_file(self, ns, mountpoint, name):
        """The mount lists exactly `name`, read-only, whose bytes are the served file's; it is
        served by the binary under test, a daemon (mount(8) has returned)."""
        info = ns.mount_info(mountpoint)
        self.assertIsNotNone(info, "not mounted")
        self.assertEqual(info["fstype"], "fuse.rangefs", info)
        self.assertIn("ro", info["mount_options"], info)
        self.assertTrue({"nosuid", "nodev"} <= info["mount_options"], info)
        path = ns.path(os.path.join(mountpoint, name))
        self.assertEqual(sorted(ns.call(os.listdir, ns.path(mountpoint))), [name])
        self.assertEqual(ns.call(os.stat, path).st_size, FILE_SIZE)
        self.assertEqual(ns.call(harness.sha256_file, path), self.sha)
        offset = 2 * MiB + 777
        self.assertEqual(ns.call(harness.pread_file, path, 5000, offset),
                         self.bytes[offset:offset + 5000])
        with self.assertRaises(OSError) as raised:
            ns.call(os.open, path, os.O_WRONLY)
        self.assertIn(raised.exception.errno, (errno.EROFS, errno.EACCES), raised.exception)
        pids = ns.rangefs_pids()
        self.assertEqual(len(pids), 1, f"expected one rangefs daemon, found {pids}")
        self.assertEqual(os.path.realpath(f"/proc/{pids[0]}/exe"), os.path.realpath(self.binary))
        return info, pids[0]

    def assert_unmounts(self, ns, mountpoint, pid):
        result = ns.run(["umount", mountpoint], timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIsNone(ns.mount_info(mountpoint))
        self.assertTrue(harness.wait_until(lambda: not harness.pid_alive(pid), 15),
                        "rangefs still running 15 s after umount")

    def daemon_args(self, pid) -> list[str]:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]

    # --------------------------------------------------------------------------- tests
    def test_mount_t_with_options(self):
        ns = self.namespace()
        mnt = ns.mountpoint()
        result = ns.run(["mount", "-t", "fuse.rangefs", self.url, mnt, "-o",
                         "ro,cache_size=64M,connections=3,block_size=64K,no_open_prefetch,"
                         "name=renamed.img"], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        # block_size=64K and no_open_prefetch reached rangefs's parser: the first read, of
        # one page, fetches exactly its 64 KiB block (256 KiB by default) and nothing else
        # (by default the open fetches the file's head and tail first).
        self.server.clear_access_log()
        offset = 5 * 64 * KiB + 10
        self.assertEqual(ns.call(harness.pread_no_readahead,
                                 ns.path(os.path.join(mnt, "renamed.img")), 100, offset),
                         self.bytes[offset:offset + 100])
        gets = [e for e in self.server.quiet_access_log_entries() if e["method"] == "GET"]
        self.assertEqual([e["range"] for e in gets], [f"bytes={5 * 64 * KiB}-{6 * 64 * KiB - 1}"])
        info, pid = self.assert_serves_file(ns, mnt, "renamed.img")
        self.assertEqual(info["source"], self.url)
        # How mount.fuse3 ran it: URL, mount point, then the options as one -o list.
        args = self.daemon_args(pid)
        self.assertEqual(args[1:4], [self.url, mnt, "-o"], args)
        self.assertIn("cache_size=64M", args[4].split(","), args)
        self.assert_unmounts(ns, mnt, pid)

    def test_private_fstab_line(self):
        ns = self.namespace()
        mnt = ns.mountpoint()
        fstab = self.write_fstab([
            [self.url, mnt, "fuse.rangefs",
             "ro,_netdev,nofail,allow_other,cache_size=64M,name=from-fstab.img", "0", "0"]])
        result = ns.run(["mount", "-T", fstab, mnt], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        info, pid = self.assert_serves_file(ns, mnt, "from-fstab.img")
        self.assertIn("allow_other", info["super_options"], info)
        # mount -a knows the line is mounted (the source matches): nothing is stacked on it.
        result = ns.run(["mount", "-T", fstab, "-a", "-v"], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("already mounted", result.stdout + result.stderr)
        self.assertEqual(ns.mount_count(mnt), 1)
        self.assertEqual(ns.rangefs_pids(), [pid])
        self.assert_unmounts(ns, mnt, pid)

    def test_fstab_line_with_defaults(self):
        # `defaults` reaches rangefs as "rw,dev,suid": the mount is still ro,nosuid,nodev.
        ns = self.namespace()
        mnt = ns.mountpoint()
        fstab = self.write_fstab([[self.url, mnt, "fuse.rangefs", "defaults,_netdev", "0", "0"]])
        result = ns.run(["mount", "-T", fstab, mnt], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        _, pid = self.assert_serves_file(ns, mnt, "disk.img")
        self.assertIn("rw", ",".join(self.daemon_args(pid)), "mount(8) passed no rw")
        self.assert_unmounts(ns, mnt, pid)

    def test_failing_mount_reports_on_the_terminal(self):
        ns = self.namespace()
        mnt = ns.mountpoint()
        missing = self.server.url("missing.img")
        result = ns.run(["mount", "-t", "fuse.rangefs", missing, mnt, "-o", "ro,cache_size=64M"],
                        timeout=MOUNT_BOUND)
        self.assertNotEqual(result.returncode, 0, "mount succeeded for a 404")
        self.assertRegex(result.stderr, rf"rangefs: cannot mount {re.escape(missing)}: .*404",
                         result.stderr)
        self.assertIsNone(ns.mount_info(mnt))
        self.assertEqual(ns.rangefs_pids(), [])
        # A usage error is reported the same way, naming the option.
        result = ns.run(["mount", "-t", "fuse.rangefs", self.url, mnt, "-o", "cache_size"],
                        timeout=MOUNT_BOUND)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("-o cache_size needs a value", result.stderr)
        self.assertIsNone(ns.mount_info(mnt))

    def test_readme_fstab_line(self):
        fields = readme_fstab_line()
        self.assertEqual(fields[2], "fuse.rangefs")
        self.assertIn("_netdev", fields[3].split(","), "the README's line lacks _netdev")
        ns = self.namespace()
        mnt = ns.mountpoint()
        fstab = self.write_fstab([[self.url, mnt, *fields[2:]]])
        result = ns.run(["mount", "-T", fstab, mnt], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        info, pid = self.assert_serves_file(ns, mnt, "disk.img")
        if "allow_other" in fields[3].split(","):
            self.assertIn("allow_other", info["super_options"], info)
        self.assert_unmounts(ns, mnt, pid)

    def test_readme_systemd_unit_verifies(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        name, text = readme_systemd_unit()
        tmp = harness.TempDir("rangefs-unit-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.path, name)
        with open(path, "w") as f:
            f.write(text)
        result = subprocess.run([analyze, "verify", path], capture_output=True, text=True,
                                timeout=60)
        # verify prints warnings (an unknown key, a name that does not match Where=) even
        # when it exits 0: the unit must be free of them.
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))
        # The check can fail: a unit whose name does not match its Where= is refused.
        wrong = os.path.join(tmp.path, "mnt-y.mount")
        shutil.copy(path, wrong)
        result = subprocess.run([analyze, "verify", wrong], capture_output=True, text=True,
                                timeout=60)
        self.assertNotEqual(result.returncode, 0, "systemd-analyze accepted a misnamed unit")

    def test_readme_systemd_unit_mounts_as_systemd_would(self):
        name, text = readme_systemd_unit()
        unit = configparser.ConfigParser(interpolation=None)
        unit.optionxform = str
        unit.read_string(text)
        mount = unit["Mount"]
        self.assertEqual(mount["Type"], "fuse.rangefs")
        self.assertRegex(mount["What"], r"^https?://[^/]+/.+")
        escaped = mount["Where"].strip("/").replace("-", "\\x2d").replace("/", "-")
        self.assertEqual(name, escaped + ".mount", "unit name does not match Where=")
        self.assertIn("network-online.target", unit["Unit"]["After"].split())
        self.assertIn("network-online.target", unit["Unit"]["Wants"].split())
        self.assertIn("_netdev", mount["Options"].split(","))
        # What systemd runs for it: mount WHAT WHERE -t TYPE -o OPTIONS, with a local URL for
        # the same file name and a private mount point.
        file_name = mount["What"].rsplit("/", 1)[1]
        os.symlink("disk.img", os.path.join(self.data, file_name))
        self.addCleanup(os.unlink, os.path.join(self.data, file_name))
        ns = self.namespace()
        mnt = ns.mountpoint()
        result = ns.run(["mount", self.server.url(file_name), mnt, "-t", mount["Type"], "-o",
                         mount["Options"]], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        _, pid = self.assert_serves_file(ns, mnt, file_name)
        self.assert_unmounts(ns, mnt, pid)

    def test_source_in_mountinfo_hides_credentials(self):
        # The source is the operand, so /proc/mounts (readable by every user) would show a
        # password given in the URL: it must be redacted there too.
        url = self.url.replace("http://", "http://alice:s3cret@")
        with harness.Mount([url]) as m:
            info = harness.mount_info(m.path())
            self.assertEqual(info["source"], self.url.replace("http://", "http://alice:***@"))
            with open("/proc/self/mountinfo") as f:
                self.assertNotIn("s3cret", f.read())
            self.assertEqual(m.call(harness.pread_file, m.path("disk.img"), 100, 0),
                             self.bytes[:100])

    # -------------------------------------------------------------------------- helpers
    def write_fstab(self, lines: list[list[str]]) -> str:
        tmp = harness.TempDir("rangefs-fstab-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.path, "fstab")
        with open(path, "w") as f:
            f.write("# private fstab of a rangefs test\n")
            for fields in lines:
                f.write(" ".join(fstab_escape(x) for x in fields) + "\n")
        return path


if __name__ == "__main__":
    unittest.main(verbosity=2)
