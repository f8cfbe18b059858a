"""Real archive tools reading a zip through the mount behave exactly as on the local file."""

import os
import sys
import unittest

import harness


class ArchivesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("unzip")
        data = harness.TempDir("rangefs-zip-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.members = harness.make_zip(os.path.join(cls.data, "sample.zip"))
        os.utime(os.path.join(cls.data, "sample.zip"), (1_650_000_000, 1_650_000_000))

        cls.server = harness.LoopbackNginx(cls.data)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)
        cls.mount = harness.Mount([cls.server.url("sample.zip")])
        cls.addClassCleanup(cls.mount.cleanup)
        cls.mount.start()

    def tearDown(self):
        self.assertTrue(self.mount.alive(), f"rangefs died; stderr:\n{self.mount.stderr()}")

    def run_both(self, cmd, timeout=120):
        """Runs cmd with cwd = mountpoint and with cwd = the local data dir."""
        remote = self.mount.run(cmd, cwd=self.mount.path(), timeout=timeout)
        local = self.mount.run(cmd, cwd=self.data, timeout=timeout)
        return remote, local

    def assert_same(self, cmd, expect_rc=0):
        remote, local = self.run_both(cmd)
        self.assertEqual(local.returncode, expect_rc,
                         f"local run of {cmd} itself failed: {local.stderr!r}")
        self.assertEqual(remote.returncode, local.returncode, remote.stderr)
        self.assertEqual(remote.stdout, local.stdout)
        self.assertEqual(remote.stderr, local.stderr)
        return remote

    def test_unzip_list(self):
        result = self.assert_same(["unzip", "-l", "sample.zip"])
        text = result.stdout.decode()
        self.assertIn("Archive:  sample.zip", text)
        for name in self.members:
            self.assertIn(name, text)

    def test_unzip_verbose_list(self):
        self.assert_same(["unzip", "-v", "sample.zip"])

    def test_unzip_pipe_each_member(self):
        for name, content in self.members.items():
            with self.subTest(member=name):
                result = self.assert_same(["unzip", "-p", "sample.zip", name])
                self.assertEqual(result.stdout, content)

    def test_unzip_test_archive(self):
        result = self.assert_same(["unzip", "-t", "sample.zip"])
        self.assertIn(b"No errors detected", result.stdout)

    def test_python_zipfile_test(self):
        result = self.assert_same([sys.executable, "-m", "zipfile", "-t", "sample.zip"])
        self.assertIn(b"Done testing", result.stdout)

    def test_python_zipfile_list(self):
        self.assert_same([sys.executable, "-m", "zipfile", "-l", "sample.zip"])

    def test_unzip_extract_all_matches(self):
        out = harness.TempDir("rangefs-unzip-out-")
        self.addCleanup(out.cleanup)
        result = self.mount.run(["unzip", "-q", self.mount.path("sample.zip"), "-d", out.path],
                                timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        for name, content in self.members.items():
            with self.subTest(member=name):
                with open(os.path.join(out.path, name), "rb") as f:
                    self.assertEqual(f.read(), content)


if __name__ == "__main__":
    unittest.main(verbosity=2)
