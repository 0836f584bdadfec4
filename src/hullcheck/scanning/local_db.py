"""Install a Trivy DB from a local directory or ``db.tar.gz`` into the cache, for offline use.

Trivy publishes its DB as an OCI artifact whose layer is ``db.tar.gz`` holding
``trivy.db`` and ``metadata.json``. A copy of that archive, or a directory with those two
files (such as another machine's ``CACHE/db``), can be given in place of a repository.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
from pathlib import Path

from hullcheck.scanning.models import DatabaseInfo, ScannerError

logger = logging.getLogger(__name__)

DB_FILES = ("trivy.db", "metadata.json")


def local_db_source(location: str) -> Path | None:
    """Return the path when ``location`` names a local DB (a path or file:// URL), else None."""
    text = location.removeprefix("file://")
    if text.startswith(("/", "./", "../", "~")) or location.startswith("file://"):
        return Path(text).expanduser()
    return None


def install_local_db(source: Path, cache_dir: Path) -> None:
    """Copy the DB at ``source`` into ``cache_dir/db`` unless the cache already has it.

    Raises ScannerError naming the path when it contains no usable DB.
    """
    from hullcheck.scanning.trivy import read_db_metadata

    with tempfile.TemporaryDirectory(prefix="hullcheck-db-") as work:
        unpacked = _unpack(source, Path(work))
        offered = read_db_metadata(unpacked.parent) if unpacked.name == "db" else None
        if offered is None:
            raise ScannerError(
                f"no Trivy DB in {source}",
                hint="give a directory with trivy.db and metadata.json, or Trivy's db.tar.gz",
            )
        current = read_db_metadata(cache_dir)
        if _as_new(current, offered):
            logger.debug("The cached DB is as new as %s; keeping it", source)
            return
        target = cache_dir / "db"
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in DB_FILES:
            partial = target / f".{name}.partial"
            shutil.copyfile(unpacked / name, partial)
            partial.replace(target / name)
    logger.info("Installed the Trivy DB from %s (updated %s)", source, offered.updated_at)


def _as_new(current: DatabaseInfo | None, offered: DatabaseInfo) -> bool:
    """True when the cached DB is at least as new as the offered one."""
    if current is None or current.updated_at is None or offered.updated_at is None:
        return False
    return current.updated_at >= offered.updated_at


def _unpack(source: Path, work: Path) -> Path:
    """Return a directory named ``db`` holding the DB files from ``source``."""
    db_dir = work / "db"
    db_dir.mkdir()
    if source.is_dir():
        folder = source / "db" if (source / "db" / "trivy.db").exists() else source
        for name in DB_FILES:
            if not (folder / name).is_file():
                raise ScannerError(
                    f"{folder} has no {name}", hint="copy both trivy.db and metadata.json there"
                )
            shutil.copyfile(folder / name, db_dir / name)
        return db_dir
    if not source.is_file():
        raise ScannerError(
            f"Trivy DB source not found: {source}", hint="check the path given to --db-repository"
        )
    try:
        with tarfile.open(source) as archive:
            for name in DB_FILES:
                member = archive.getmember(name)
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise KeyError(name)
                with extracted, open(db_dir / name, "wb") as output:
                    shutil.copyfileobj(extracted, output)
    except (tarfile.TarError, KeyError, OSError) as error:
        raise ScannerError(
            f"{source} is not a Trivy DB archive: {error}",
            hint="give Trivy's db.tar.gz, or a directory with trivy.db and metadata.json",
        ) from error
    return db_dir
