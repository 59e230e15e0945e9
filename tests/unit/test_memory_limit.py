"""A container's memory limit, not the host's RAM, sizes the process pool and the memory budget."""

from __future__ import annotations

from app.core.settings.memory import cgroup_memory_limit


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_limit_of_the_group_or_a_parent(tmp_path):
    write(tmp_path / "kubepods" / "memory.max", "2147483648\n")
    write(tmp_path / "kubepods" / "pod1" / "memory.max", "max\n")
    assert cgroup_memory_limit(tmp_path, "0::/kubepods/pod1\n") == 2 * 1024**3


def test_cgroup_v2_in_its_own_namespace(tmp_path):
    write(tmp_path / "memory.max", "536870912\n")
    assert cgroup_memory_limit(tmp_path, "0::/\n") == 512 * 1024**2


def test_cgroup_v1_limit_and_unlimited(tmp_path):
    write(tmp_path / "memory" / "docker" / "abc" / "memory.limit_in_bytes", "1073741824\n")
    membership = "9:pids:/docker/abc\n4:memory:/docker/abc\n"
    assert cgroup_memory_limit(tmp_path, membership) == 1024**3
    write(tmp_path / "memory" / "docker" / "abc" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert cgroup_memory_limit(tmp_path, membership) is None


def test_no_limit_or_no_cgroup_file_is_none(tmp_path):
    write(tmp_path / "memory.max", "max\n")
    assert cgroup_memory_limit(tmp_path, "0::/\n") is None
    assert cgroup_memory_limit(tmp_path / "absent", "0::/x\n") is None
