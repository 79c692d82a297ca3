"""The installable package: `cmake --install` of the build into a temporary
prefix; the installed binary runs from the prefix alone (RPATH to the bundled
libonnxruntime, bench data from <prefix>/share); examples/ configured as a
separate CMake project with find_package(akidb_embed CONFIG), built and run
on the model."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import BINARY, MODEL_DIR, ROOT

BUILD_DIR = BINARY.resolve().parent


def run(*cmd, cwd=None, env=None, check=True) -> subprocess.CompletedProcess:
    # No LD_LIBRARY_PATH: the installed files must find their libraries themselves.
    clean = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**clean, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    if not (BUILD_DIR / "cmake_install.cmake").exists():
        pytest.skip(f"{BINARY} is not in a CMake build directory (no cmake_install.cmake)")
    out = tmp_path_factory.mktemp("install") / "prefix"
    run("cmake", "--install", BUILD_DIR, "--prefix", out)
    return out


def test_install_layout(prefix):
    for rel in ["bin/akidb-embed", "lib/libakidb_embed.a", "lib/libonnxruntime.so.1",
                "include/akidb/embed/embed.hpp", "include/akidb/embed/version.hpp",
                "lib/cmake/akidb_embed/akidb_embedConfig.cmake",
                "lib/cmake/akidb_embed/akidb_embedConfigVersion.cmake",
                "lib/cmake/akidb_embed/akidb_embedTargets.cmake",
                "share/akidb-embed/stsb/stsb-en-test.csv", "share/akidb-embed/stsb/LICENSE",
                "share/akidb-embed/golden/vectors.f32"]:
        assert (prefix / rel).exists(), f"not installed: {rel}"
    assert (prefix / "lib/libonnxruntime.so.1").is_symlink()
    # No source-tree or build-tree paths leak into the package files.
    for f in (prefix / "lib/cmake/akidb_embed").iterdir():
        text = f.read_text()
        assert str(ROOT) not in text, f"{f.name} names the source tree"


def test_installed_binary_runs_from_the_prefix(prefix):
    exe = prefix / "bin" / "akidb-embed"
    ldd = run("ldd", exe).stdout
    ort = re.search(r"libonnxruntime\.so\.1 => (\S+)", ldd)
    assert ort, ldd
    assert Path(ort.group(1)).resolve().parent == (prefix / "lib").resolve(), ldd
    version = (prefix / "include/akidb/embed/version.hpp").read_text()
    want = re.search(r'#define AKIDB_EMBED_VERSION "([^"]+)"', version).group(1)
    assert run(exe, "--version").stdout.strip().endswith(want)
    info = json.loads(run(exe, "info", "--model", MODEL_DIR.resolve()).stdout)
    assert info["dimension"] == 384 and info["version"] == want


def test_installed_bench_uses_the_installed_data(prefix, tmp_path):
    exe = prefix / "bin" / "akidb-embed"
    proc = run(exe, "bench", "--model", MODEL_DIR.resolve(), "--quick", "--batch-sizes", "1",
               "--stages", "throughput", "accuracy", "--json", "-", cwd=tmp_path)
    result = json.loads(proc.stdout)
    assert result["throughput"][0]["sentences_per_s"] > 0
    assert result["accuracy"]["golden"]["min_cosine"] >= 0.9999


def test_bench_without_data_names_the_flag(prefix, tmp_path):
    # A copy of the install without share/: the binary must not fall back to
    # the source tree (only the build-tree binary may) and says which flag to use.
    bare = tmp_path / "bare"
    shutil.copytree(prefix / "bin", bare / "bin", symlinks=True)
    shutil.copytree(prefix / "lib", bare / "lib", symlinks=True)
    proc = run(bare / "bin" / "akidb-embed", "bench", "--model", MODEL_DIR.resolve(), "--quick",
               "--stages", "throughput", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "--sts" in proc.stderr and "share/akidb-embed/stsb" in proc.stderr, proc.stderr
    assert str(ROOT) not in proc.stderr, proc.stderr


def test_example_builds_against_the_installed_package(prefix, tmp_path):
    build = tmp_path / "example-build"
    cmake = ["cmake", "-S", ROOT / "examples", "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}",
             "-DCMAKE_BUILD_TYPE=Release"]
    if shutil.which("ninja"):
        cmake += ["-G", "Ninja"]
    run(*cmake)
    cache = (build / "CMakeCache.txt").read_text()
    assert f"akidb_embed_DIR:PATH={prefix}/lib/cmake/akidb_embed" in cache
    run("cmake", "--build", build, "-j", "2")
    exe = build / "example_embed"
    ldd = run("ldd", exe).stdout
    assert str((prefix / "lib").resolve()) in ldd or str(prefix / "lib") in ldd, ldd
    out = run(exe, MODEL_DIR.resolve()).stdout
    m = re.fullmatch(r"dimension 384, (\d+) tokens, cosine (\S+)\n", out)
    assert m, out
    assert int(m.group(1)) > 10
    # "A man is playing a guitar." vs "Someone plays an instrument.": related, not equal.
    assert 0.3 < float(m.group(2)) < 0.95, out
