"""scripts/_venv.sh (issue 28): the venv is Python 3.12; one of another version is recreated when it
is the project's own ``.venv`` and refused, naming both versions, when the caller gave it as ``VENV``
(a shared venv of other work is never recreated under it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT

WANTED = "3.12"


def _other_python() -> str | None:
    """An interpreter of another version than the project's, if this machine has one."""
    for name in ("python3.11", "python3.13", "python3"):
        found = shutil.which(name)
        if found is None:
            continue
        done = subprocess.run([found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True)
        if done.returncode == 0 and done.stdout.decode().strip() != WANTED:
            return found
    return None


def _checkout(tmp_path: Path) -> Path:
    """A copy of the script in a repository of its own, with an empty requirements file."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "_venv.sh", root / "scripts" / "_venv.sh")
    (root / "requirements.txt").write_text("")
    return root


def _ensure(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = 'source scripts/_venv.sh && ensure_venv requirements.txt && "$VENV/bin/python" -V'
    base = {"PATH": "/usr/bin:/bin", "HOME": str(root), "PYTHON": str(getattr(sys, "_base_executable", sys.executable))}
    return subprocess.run(
        ["bash", "-c", script], cwd=root, env={**base, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def other_python() -> str:
    found = _other_python()
    if found is None:
        pytest.skip("no Python of another version than 3.12 on this machine")
    return found


def test_the_projects_own_venv_of_another_version_is_recreated(tmp_path: Path, other_python: str) -> None:
    root = _checkout(tmp_path)
    subprocess.run([other_python, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    done = _ensure(root)
    assert done.returncode == 0, done.stderr
    assert "not 3.12: recreating it" in done.stderr
    assert done.stdout.startswith(f"Python {WANTED}.")


def test_a_venv_given_of_another_version_is_refused_and_left_as_it_is(tmp_path: Path, other_python: str) -> None:
    root = _checkout(tmp_path)
    given = tmp_path / "shared-venv"
    subprocess.run([other_python, "-m", "venv", "--without-pip", str(given)], check=True)
    before = sorted(p.name for p in given.iterdir())
    done = _ensure(root, VENV=str(given))
    assert done.returncode == 1
    assert f"VENV={given} is Python" in done.stderr
    assert f"this project needs {WANTED}" in done.stderr
    assert sorted(p.name for p in given.iterdir()) == before
    assert not (root / ".venv").exists()


def test_no_python_3_12_is_an_error_naming_what_is_needed(tmp_path: Path) -> None:
    if shutil.which("python3.12", path="/usr/bin:/bin"):
        pytest.skip("this machine's system Python is 3.12")
    root = _checkout(tmp_path)
    done = subprocess.run(
        ["bash", "-c", "source scripts/_venv.sh && ensure_venv requirements.txt"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "no-pyenv")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Python 3.12 is needed" in done.stderr
    assert not (root / ".venv").exists()
