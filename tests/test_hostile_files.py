"""``fastfrac approximate`` against hostile files and paths (issue 10), one family per problem.

1. writes outside OUT (HDF5 external storage, virtual datasets, external links);
2. the input lost (an output naming IN or another output);
3. devices, links and permission bits (not replaced, followed, kept);
4. malformed headers (one line, file and tensor named, never accepted);
5. the memory bomb (a 2**30-byte declared .npy header);
6. signals (SIGHUP cleaned up; a SIGKILLed run's leftovers named);
7. truthful messages (unreadable, oversize, duplicate members, full disk).

Every test runs the real command in a subprocess and checks, besides the
message, that nothing but the expected files is in the folder afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import struct
import subprocess
import sys
import time
import tempfile
import threading
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from peak import run_measured
from test_cli import ENV, error_line, run, start_and_wait_for_temp

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 1 with one error line holding every fragment, no traceback, nothing on stdout."""
    assert result.returncode == 1, result.stderr
    line = error_line(result.stderr)
    for fragment in fragments:
        assert fragment in line, (fragment, result.stderr)
    assert result.stdout == ""


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def keras3_h5(path: Path, make_weight) -> Path:
    """A Keras 3 weights file (layers/dense/vars/0) whose weight ``make_weight(vars_group)`` creates."""
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.attrs["name"] = "dense"
        make_weight(group)
        f["layers/dense/vars/1"] = np.float32([0.5, 0.25])
    return path


def in_keras_archive(h5: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("config.json", "{}")
        z.write(h5, "model.weights.h5")
    return archive


# -- 1. never a write outside OUT ------------------------------------------------------


def _external(folder: Path):
    raw = folder / "victim.bin"
    raw.write_bytes(np.float32([0.123456, 0.654321, 3.14159274, 2.5]).tobytes())
    return raw, lambda g: g.create_dataset("0", shape=(4,), dtype="f4", external=[(str(raw), 0, 16)])


def _virtual(folder: Path):
    victim = folder / "victim.h5"
    with h5py.File(victim, "w") as f:
        f["x"] = np.float32([0.123456, 0.654321])

    def make(g):
        layout = h5py.VirtualLayout(shape=(2,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(victim), "x", shape=(2,))
        g.create_virtual_dataset("0", layout)

    return victim, make


def _link(folder: Path):
    victim = folder / "victim.h5"
    with h5py.File(victim, "w") as f:
        f["x"] = np.float32([0.123456, 0.654321])
    return victim, lambda g: g.__setitem__("0", h5py.ExternalLink(str(victim), "/x"))


OTHER_FILES = {
    "external storage": (_external, "uses external storage"),
    "virtual dataset": (_virtual, "is a virtual dataset"),
    "external link": (_link, "is an external link"),
}


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
@pytest.mark.parametrize("case", list(OTHER_FILES))
def test_other_files_are_refused(case: str, suffix: str, tmp_path: Path) -> None:
    """test_external_storage_is_refused, ..._virtual_dataset_..., ..._external_link_...: in .h5 and .keras."""
    make_victim, fragment = OTHER_FILES[case]
    _, make_weight = make_victim(tmp_path)
    src = keras3_h5(tmp_path / "in.h5", make_weight)
    if suffix == ".keras":
        src = in_keras_archive(src, tmp_path / "in.keras")
    before = listing(tmp_path)
    result = run("approximate", src, "-o", tmp_path / f"out{suffix}", "-p", "2",
                 "--json", tmp_path / "r.json")
    refused(result, str(src), "dataset 'layers/dense/vars/0'", fragment, "a file other than OUT")
    assert listing(tmp_path) == before  # the victim unchanged, nothing written, nothing left


def test_external_storage_was_written_before(tmp_path: Path) -> None:
    """The refusal is what protects the victim: h5py would write through external storage."""
    raw, make_weight = _external(tmp_path)
    src = keras3_h5(tmp_path / "in.h5", make_weight)
    with h5py.File(src, "r+") as f:
        f["layers/dense/vars/0"][:] = 0
    assert raw.read_bytes() == bytes(16)


# -- 2. the input never lost -----------------------------------------------------------


def _same_path(folder: Path, src: Path) -> Path:
    return src


def _other_spelling(folder: Path, src: Path) -> Path:
    (folder / "sub").mkdir()
    return folder / "sub" / ".." / "." / src.name


def _hard_link(folder: Path, src: Path) -> Path:
    os.link(src, folder / "alias.npz")
    return folder / "alias.npz"


def _symlink(folder: Path, src: Path) -> Path:
    (folder / "alias.npz").symlink_to(src)
    return folder / "alias.npz"


@pytest.mark.parametrize("spelling", [_same_path, _other_spelling, _hard_link, _symlink],
                         ids=["same_path", "other_spelling", "hard_link", "symlink"])
def test_output_is_input(spelling, tmp_path: Path) -> None:
    """test_output_is_input[hard_link] and its kin: refused, IN untouched."""
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456, 3.14159274]))
    out = spelling(tmp_path, src)
    before = listing(tmp_path)
    refused(run("approximate", src, "-o", out, "-p", "2"), "is the same file as IN", "OUT")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("option, names", [("--json", "IN"), ("--fractions", "IN"),
                                           ("--json", "OUT"), ("--fractions", "OUT"),
                                           ("--json", "--fractions")])
def test_json_or_fractions_naming_another_file(option: str, names: str, tmp_path: Path) -> None:
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456, 3.14159274]))
    out = tmp_path / "out.npz"
    out.write_bytes(b"old")
    target = {"IN": src, "OUT": tmp_path / "." / "out.npz", "--fractions": tmp_path / "f.npz"}[names]
    extra = ["--fractions", tmp_path / "f.npz"] if names == "--fractions" else []
    before = listing(tmp_path)
    result = run("approximate", src, "-o", out, "-p", "2", *extra, option, target)
    refused(result, f"is the same file as {names}")
    assert listing(tmp_path) == before


# -- 3. devices, FIFOs, symlinks, permission bits ---------------------------------------


def device(folder: Path, name: str, minor: int) -> Path:
    """/dev/null (minor 3) or /dev/full (minor 7); as root a private node of it in ``folder``.

    Root could replace the real device, as the command once did: a node of
    our own is all a broken build can destroy.  Others cannot replace
    anything in /dev, so the real one is safe to use.
    """
    if os.geteuid() != 0:
        return Path("/dev") / name
    node = folder / name
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    return node


def test_json_to_dev_null_is_not_replaced(tmp_path: Path) -> None:
    """Run as root (CI), renaming over a device would replace it with a regular file."""
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456]))
    (tmp_path / "dev").mkdir()
    null = device(tmp_path / "dev", "null", 3)
    before = os.stat(null)
    result = run("approximate", src, "-o", tmp_path / "out.npz", "-p", "2", "-q", "--json", null)
    assert result.returncode == 0, result.stderr
    after = os.stat(null)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert sorted(listing(tmp_path)) == ["in.npz", "out.npz"]


def test_json_to_a_fifo_is_written_into(tmp_path: Path) -> None:
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456]))
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("approximate", src, "-o", tmp_path / "out.npz", "-p", "2", "-q", "--json", fifo)
    assert result.returncode == 0, result.stderr
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["tensors"][0]["name"] == "w"
    # The temporary copy went to the system's temporary folder and is gone.
    assert not any(".fastfrac-" in n for n in os.listdir(tempfile.gettempdir()) if "report.fifo" in n)


def test_json_dash_writes_stdout(tmp_path: Path) -> None:
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456]))
    result = run("approximate", src, "-o", tmp_path / "out.npz", "-p", "2", "--json", "-",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tensors"][0]["name"] == "w"  # stdout is the JSON alone
    assert "1 of 1 tensors approximated" in result.stderr  # the summary moved to stderr
    assert not (tmp_path / "-").exists()


def test_symlink_output_is_followed(tmp_path: Path) -> None:
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456]))
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.npz"
    target.write_bytes(b"old")
    link = tmp_path / "out.npz"
    link.symlink_to(target)
    result = run("approximate", src, "-o", link, "-p", "2", "-q")
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert np.load(target)["w"][0] == np.float32(0.1235)
    assert sorted(os.listdir(tmp_path / "real")) == ["target.npz"]  # no temporary file left


def test_existing_output_keeps_its_mode(tmp_path: Path) -> None:
    src = npz(tmp_path / "in.npz", w=np.float32([0.123456]))
    out, report = tmp_path / "out.npz", tmp_path / "r.json"
    for path, mode in ((out, 0o640), (report, 0o604)):
        path.write_bytes(b"old")
        path.chmod(mode)
    result = run("approximate", src, "-o", out, "-p", "2", "-q", "--json", report)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and stat.S_IMODE(report.stat().st_mode) == 0o604
    assert np.load(out)["w"][0] == np.float32(0.1235)


# -- 4. malformed headers ---------------------------------------------------------------


def safetensors_bytes(header: str | bytes, data: bytes = bytes(8)) -> bytes:
    raw = header.encode() if isinstance(header, str) else header
    return len(raw).to_bytes(8, "little") + raw + data


def _st(shape: str, dtype: str = '"F32"', offsets: str = "[0, 8]") -> str:
    return f'{{"w": {{"dtype": {dtype}, "shape": {shape}, "data_offsets": {offsets}}}}}'


SAFETENSORS_HEADERS = {
    "infinite shape": (_st("[Infinity]"), "not JSON"),
    "float overflow shape": (_st("[1e400]"), "shape [inf] is not a list of integers"),
    "huge shape": (_st(f"[{2**70}]"), "has more elements than int64 counts"),
    "overflowing product": (_st(f"[{2**40}, {2**40}]"), "has more elements than int64 counts"),
    "negative shape": (_st("[-2, -1]"), "has a negative dimension"),
    "string shape": (_st('"22"'), "shape '22' is not a list of integers"),
    "float dimension": (_st("[2.0]"), "shape [2.0] is not a list of integers"),
    "numeric dtype": (_st("[2]", dtype="5"), "dtype 5 is not a safetensors type"),
    "unknown dtype": (_st("[2]", dtype='"F99"'), "dtype 'F99' is not a safetensors type"),
    "bad offsets": (_st("[2]", offsets='[0, "8"]'), "is not a pair of integers"),
    "offsets past the data": (_st("[4]", offsets="[0, 16]"), "lie outside the 8 data bytes"),
    "count not the bytes": (_st("[3]"), "needs 12 bytes but the file gives it 8"),
    "nested deep": ('{"w": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests 100001 levels deep"),
    "duplicate key": (_st("[2]")[:-1] + ', "w": {}}', "names 'w' twice"),
    "long integer": (_st("[" + "9" * 5000 + "]"), "not JSON"),
}


@pytest.mark.parametrize("case", list(SAFETENSORS_HEADERS))
def test_malformed_safetensors_header(case: str, tmp_path: Path) -> None:
    header, fragment = SAFETENSORS_HEADERS[case]
    src = tmp_path / "in.safetensors"
    src.write_bytes(safetensors_bytes(header))
    result = run("approximate", src, "-o", tmp_path / "out.safetensors", "-p", "2")
    refused(result, str(src), fragment)
    if case not in ("infinite shape", "long integer", "nested deep", "duplicate key"):
        assert "tensor 'w'" in result.stderr  # found per tensor: the tensor is named
    assert sorted(os.listdir(tmp_path)) == ["in.safetensors"]


def npy_member(header: bytes, body: bytes = b"", version: int = 1) -> bytes:
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + body


def _dict(shape: str, descr: str = "'<f4'") -> bytes:
    return f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}\n".encode()


NPY_MEMBERS = {
    "header cut short": (npy_member(_dict("(2,)"))[:20], "the member ends"),
    "length cut short": (b"\x93NUMPY\x02\x00\x10", "the member ends"),
    "shape 10**20": (npy_member(_dict("(10**20,)".replace("10**20", str(10**20)))),
                     "has more elements than int64 counts"),
    "negative shape": (npy_member(_dict("(-4,)")), "has a negative dimension"),
    "count not the bytes": (npy_member(_dict("(3,)"), bytes(8)), "needs 12 bytes but the file gives it 8"),
    "not a literal": (npy_member(_dict("(2,)", descr="__import__('os')"), bytes(8)),
                      "the .npy header is not one NumPy reads"),
    "oversize header": (npy_member(b" " * 20_000, version=2), "over NumPy's limit of 10000"),
}


@pytest.mark.parametrize("case", list(NPY_MEMBERS))
def test_malformed_npz_member(case: str, tmp_path: Path) -> None:
    src = tmp_path / "in.npz"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("ok.npy", npy_member(_dict("(2,)"), bytes(8)))
        z.writestr("w.npy", NPY_MEMBERS[case][0])
    result = run("approximate", src, "-o", tmp_path / "out.npz", "-p", "2")
    refused(result, str(src), "tensor 'w'", NPY_MEMBERS[case][1])
    assert sorted(os.listdir(tmp_path)) == ["in.npz"]


def test_numpy_itself_refuses_what_is_refused(tmp_path: Path) -> None:
    """The npz checks are NumPy's own rules: np.load refuses the same members."""
    for case in ("header cut short", "oversize header", "not a literal"):
        src = tmp_path / f"{len(case)}.npz"
        with zipfile.ZipFile(src, "w") as z:
            z.writestr("w.npy", NPY_MEMBERS[case][0])
        with pytest.raises((ValueError, EOFError, SyntaxError)), np.load(src) as data:
            data["w"]


# -- 5. the memory bomb ---------------------------------------------------------------------




def test_declared_huge_npy_header_memory(tmp_path: Path) -> None:
    """A 1 MB .npz whose member declares (and holds, deflated) a 2**30-byte header: peak RSS <= 200 MB."""
    src = tmp_path / "bomb.npz"
    with zipfile.ZipFile(src, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
            z.open("w.npy", "w", force_zip64=True) as member:
        member.write(b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**30))
        block = b" " * (1 << 24)
        for _ in range(2**30 // len(block)):
            member.write(block)
    assert src.stat().st_size < 2 << 20
    done, peak_mb = run_measured([sys.executable, "-m", "fastfrac", "approximate", str(src), "-o",
                                  str(tmp_path / "out.npz"), "-p", "2"], env=ENV, timeout=600)
    assert done.returncode == 1 and "over NumPy's limit of 10000" in done.stderr, done.stderr
    print(f"peak RSS {peak_mb:.0f} MB")
    assert peak_mb <= 200


# -- 6. signals -----------------------------------------------------------------------------


def test_sighup_leaves_no_partial_output(tmp_path: Path) -> None:
    proc = start_and_wait_for_temp(tmp_path)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=60) == 128 + signal.SIGHUP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz"]


def test_sigkill_leftovers_are_named(tmp_path: Path) -> None:
    proc = start_and_wait_for_temp(tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".out.npz.")]
    assert left and all(f".fastfrac-{proc.pid}-" in p.name for p in left)
    small = npz(tmp_path / "small.npz", w=np.float32([0.5]))
    result = run("approximate", small, "-o", tmp_path / "out.npz", "-p", "2", "-q")
    assert result.returncode == 0, result.stderr
    assert "temporary file(s) left by an earlier run that was killed" in result.stderr
    assert "rm -- " in result.stderr and all(str(p) in result.stderr for p in left)
    assert all(p.exists() for p in left)  # named, not deleted: the user decides


# -- 7. truthful messages -----------------------------------------------------------------


def _without_root_reading() -> None:
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set: the exec'd command,
    root or not, then obeys a file's permission bits."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    src = npz(tmp_path / "in.npz", w=np.float32([0.5]))
    src.chmod(0)
    done = subprocess.run([sys.executable, "-m", "fastfrac", "approximate", str(src),
                           "-o", str(tmp_path / "out.npz"), "-p", "2"],
                          capture_output=True, text=True, env=ENV, timeout=600, check=False,
                          preexec_fn=_without_root_reading if os.geteuid() == 0 else None)
    refused(done, f"cannot read IN {src}: Permission denied")
    assert sorted(os.listdir(tmp_path)) == ["in.npz"]


def test_oversize_safetensors_header_says_over_the_limit(tmp_path: Path) -> None:
    src = tmp_path / "in.safetensors"
    src.write_bytes((200 << 20).to_bytes(8, "little") + b"{}")
    refused(run("approximate", src, "-o", tmp_path / "out.safetensors", "-p", "2"),
            "header length 209715200 is over the limit of 104857600 bytes")
    src.write_bytes((100).to_bytes(8, "little") + b"{}")
    refused(run("approximate", src, "-o", tmp_path / "out.safetensors", "-p", "2"),
            "header length 100 exceeds the file (10 bytes)")


@pytest.mark.parametrize("suffix", [".npz", ".keras"])
def test_duplicate_zip_members_are_named(suffix: str, tmp_path: Path) -> None:
    src = tmp_path / f"in{suffix}"
    member = "w.npy" if suffix == ".npz" else "model.weights.h5"
    content = npy_member(_dict("(2,)"), bytes(8))
    with zipfile.ZipFile(src, "w") as z:
        z.writestr(member, content)
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr(member, content)
    refused(run("approximate", src, "-o", tmp_path / f"out{suffix}", "-p", "2"),
            str(src), f"the member {member!r} appears 2 times")
    assert sorted(os.listdir(tmp_path)) == [src.name]


def test_full_device_names_the_path(tmp_path: Path) -> None:
    """/dev/full refuses every write with ENOSPC, as a full disk does."""
    (tmp_path / "dev").mkdir()
    full = device(tmp_path / "dev", "full", 7)
    src = npz(tmp_path / "in.npz", w=np.float32([0.5]))
    refused(run("approximate", src, "-o", tmp_path / "out.npz", "-p", "2", "--json", full),
            f"cannot write {full}: No space left on device")
    assert sorted(listing(tmp_path)) == ["in.npz"]
    assert stat.S_ISCHR(os.stat(full).st_mode)


def _small_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))


def test_file_size_limit_names_the_output(tmp_path: Path) -> None:
    """A write past RLIMIT_FSIZE fails as a full disk does (EFBIG instead of ENOSPC), without a path."""
    src = npz(tmp_path / "in.npz", w=np.random.default_rng(1).normal(0, 1, 1 << 16).astype(np.float32))
    out = tmp_path / "out.npz"
    done = subprocess.run([sys.executable, "-m", "fastfrac", "approximate", str(src), "-o", str(out),
                           "-p", "2"], capture_output=True, text=True, env=ENV, timeout=600, check=False,
                          preexec_fn=_small_file_limit)
    refused(done, f"cannot write {out}: File too large")
    assert sorted(os.listdir(tmp_path)) == ["in.npz"]


def test_hdf5_that_never_returns_is_a_one_line_error_at_the_deadline(tmp_path: Path) -> None:
    """A .h5 whose global heap is damaged: HDF5 never returns from reading an attribute."""
    found = Path(__file__).parent / "fuzz" / "regressions" / "h5" / "damaged-global-heap-index"
    src = tmp_path / "model.h5"
    src.write_bytes(found.read_bytes())
    env = {**ENV, "FASTFRAC_HDF5_DEADLINE": "2"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "fastfrac", "approximate", str(src), "-o",
                           str(tmp_path / "out.h5"), "-p", "2"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert time.monotonic() - started < 60
    refused(done, "the HDF5 file is damaged (reading its metadata did not finish in 2 s)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_deadline_returns_results_and_exceptions() -> None:
    from fastfrac._io.deadline import call_with_deadline

    assert call_with_deadline(lambda: {"a": [1, 2]}, TimeoutError) == {"a": [1, 2]}
    with pytest.raises(KeyError, match="boom"):
        call_with_deadline(lambda: {}["boom"], TimeoutError)


def test_a_crash_in_the_child_is_its_death_by_signal_even_under_faulthandler() -> None:
    """The parent's crash handlers (faulthandler here, a fuzzer's elsewhere) do not run in the child."""
    code = (
        "import ctypes, faulthandler, signal\n"
        "from fastfrac._io.deadline import call_with_deadline\n"
        "faulthandler.enable()\n"
        "try:\n"
        "    call_with_deadline(lambda: ctypes.string_at(0), TimeoutError, lambda how: RuntimeError(how))\n"
        "except RuntimeError as exc:\n"
        "    print('crash:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"crash: signal {int(signal.SIGSEGV)}\n"
    assert done.stderr == ""  # no "Fatal Python error" and C stack from the child
