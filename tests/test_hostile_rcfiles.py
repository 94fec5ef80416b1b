"""rc files under concurrency and in odd shapes: every block kept, links, owner and mode kept, only
regular files written, a backup never partial."""

import os
import stat
import subprocess
import sys
import time

import pytest
from hostile import assert_clean_failure, run_capped

from fitadvisor.claude.alias import install, markers

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
DEFINITION = "alias claude-x='claude'\n"


def apply_alias(rc_file, name: str = "claude-local", **options):
    return run_capped(["apply", "devstral-small-2", "--ctx", "64k", "--force", "--install-alias", "--alias-name", name,
                       "--shell", "bash", "--rc-file", str(rc_file), "--host", "127.0.0.1:9"], 30,
                      cwd=rc_file.parent, **options)


def test_twenty_concurrent_installs_keep_every_block(tmp_path):
    rc_file = tmp_path / ".bashrc"
    rc_file.write_text("# mine\n")
    command = [sys.executable, "-c", "from fitadvisor.cli import main; main()", "apply", "devstral-small-2", "--ctx", "64k", "--force",
               "--install-alias", "--shell", "bash", "--rc-file", str(rc_file), "--host", "127.0.0.1:9", "--alias-name"]
    runs = [subprocess.Popen([*command, f"claude-{i}"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for i in range(20)]
    codes = [run.wait(timeout=120) for run in runs]
    assert codes == [0] * 20, [run.stderr.read() for run in runs]
    text = rc_file.read_text()
    assert text.startswith("# mine\n")
    for i in range(20):
        begin, end = markers(f"claude-{i}")
        assert text.count(begin) == 1 and text.count(end) == 1, i


def test_a_hard_link_stays_one_file(tmp_path):
    rc_file, link = tmp_path / ".bashrc", tmp_path / "dotfiles-bashrc"
    rc_file.write_text("# mine\n")
    os.link(rc_file, link)
    install(rc_file, "claude-x", DEFINITION)
    assert os.stat(rc_file).st_ino == os.stat(link).st_ino
    assert "claude-x" in link.read_text()


def test_a_symlink_stays_a_link(tmp_path):
    real, rc_file = tmp_path / "real-bashrc", tmp_path / ".bashrc"
    real.write_text("# mine\n")
    rc_file.symlink_to(real)
    install(rc_file, "claude-x", DEFINITION)
    assert rc_file.is_symlink() and "claude-x" in real.read_text()


def test_mode_is_kept(tmp_path):
    rc_file = tmp_path / ".bashrc"
    rc_file.write_text("# mine\n")
    rc_file.chmod(0o600)
    saved = install(rc_file, "claude-x", DEFINITION).backup
    assert stat.S_IMODE(os.stat(rc_file).st_mode) == 0o600 and stat.S_IMODE(os.stat(saved).st_mode) == 0o600


@pytest.mark.skipif(not ROOT, reason="only root can write another user's file")
def test_root_keeps_the_users_ownership(home):
    os.chown(home, 1000, 1000)
    rc_file, new_file = home / ".bashrc", home / ".zshrc"
    rc_file.write_text("# mine\n")
    os.chown(rc_file, 1000, 1000)
    rc_file.chmod(0o600)
    saved = install(rc_file, "claude-x", DEFINITION).backup
    install(new_file, "claude-x", DEFINITION)
    for path in (rc_file, saved, new_file):
        info = os.stat(path)
        assert (info.st_uid, info.st_gid) == (1000, 1000), path


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / ".bashrc"
    os.mkfifo(fifo)
    code, _, err, seconds = apply_alias(fifo)
    assert_clean_failure(code, err, "is a FIFO, not a regular file")
    assert seconds < 10 and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_device_is_refused(tmp_path):
    code, _, err, _ = run_capped(["apply", "devstral-small-2", "--ctx", "64k", "--force", "--install-alias", "--shell", "bash",
                                  "--rc-file", "/dev/null", "--host", "127.0.0.1:9"], 30, cwd=tmp_path)
    assert_clean_failure(code, err, "/dev/null is a character device, not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_full_disk_leaves_no_partial_backup_and_the_file_unchanged(tmp_path):
    rc_file = tmp_path / ".bashrc"
    original = "# mine\n" + "export A=1\n" * 20000  # 220 KB
    rc_file.write_text(original)
    code, _, err, _ = apply_alias(rc_file, file_size=100_000)
    assert_clean_failure(code, err, f"cannot write {rc_file}", "it is unchanged")
    assert rc_file.read_text() == original
    assert sorted(p.name for p in tmp_path.iterdir() if "bashrc" in p.name) == [".bashrc"]


def test_a_lock_held_elsewhere_is_waited_for(tmp_path):
    import fcntl

    rc_file = tmp_path / ".bashrc"
    rc_file.write_text("# mine\n")
    descriptor = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    run = subprocess.Popen([sys.executable, "-c", "from fitadvisor.cli import main; main()", "apply", "devstral-small-2",
                            "--ctx", "64k", "--force", "--install-alias", "--shell", "bash", "--rc-file", str(rc_file),
                            "--host", "127.0.0.1:9"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    assert "claude-local" not in rc_file.read_text()  # still waiting
    os.close(descriptor)
    assert run.wait(timeout=30) == 0
    assert "claude-local" in rc_file.read_text()
