"""Writing files without ever destroying one the user made.

Every command that writes (``hw.generate``, ``golden.export``, ``scripts.report/synth/
bench/train --out``) follows one rule: never delete or overwrite anything we did not
write. An output folder is either new, or empty, or an earlier output of ours, which its
``manifest.json`` says (``"generator": "parc-hw"`` plus the ``"files"`` it holds); in the
last case only the files that manifest lists are replaced or removed, and a user's own
files beside them survive. Anything else (a foreign non-empty folder, a file, a device,
the current folder or one that holds it) is refused with a one-line `UserError` before
anything is touched. Files are staged and renamed into place, so readers never see half
a file, and a failed run leaves no temporary file or folder behind.

Created folders and files get the modes the user's umask gives, not the 0700/0600 of
`tempfile` (other users of a shared report folder must be able to read it).

This module sits on the lowest floor (golden/) so that every layer can use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from golden.cli import UserError

GENERATOR = "parc-hw"
MANIFEST = "manifest.json"
OWNERSHIP_KEYS = ("generator", "files", "written_by")

Writer = Callable[[str], object]  # called with the temporary path to write; its result is ignored


# ---------------------------------------------------------------------------- modes and hashes


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be writing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode a plain ``open(path, 'w')`` would give a new file."""
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    """Mode a plain ``mkdir`` would give a new folder."""
    return 0o777 & ~current_umask()


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------- single files


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    created = []
    for path in reversed(missing):
        path.mkdir()
        created.append(path)
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Undo `_make_parents` after a failure: remove the folders it made if still empty."""
    for path in reversed(folders):
        try:
            path.rmdir()
        except OSError:
            return


def atomic_write(path: str | os.PathLike, write: Writer) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``: readers never see half a file.

    The temporary file is a hidden sibling with the same suffix (so numpy and matplotlib do
    not append their own); it is removed on any failure, as are the folders made for it.
    The result gets the umask-based mode, not mkstemp's 0600.
    """
    path = Path(path)
    created = _make_parents(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except BaseException:
        _remove_empty(created)
        raise
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        _remove_empty(created)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def with_suffix(path: str | os.PathLike, suffix: str) -> tuple[Path, bool]:
    """``path`` itself if it ends in ``suffix``, else ``path + suffix``; True when appended.

    Tools such as numpy append the suffix silently; we append it openly so the message can
    name the file that really exists.
    """
    path = Path(path)
    if path.name.lower().endswith(suffix.lower()) and path.name.lower() != suffix.lower():
        return path, False
    return Path(os.fspath(path) + suffix), True


def output_file_name(path: str | os.PathLike, suffix: str, *, option: str) -> tuple[Path, bool]:
    """`with_suffix`, but a name that already exists (a folder, a device, someone's file) is
    refused rather than silently written beside: ``--out /dev/null`` must not make
    ``/dev/null.npz``."""
    target, appended = with_suffix(path, suffix)
    if appended and os.path.lexists(path):
        raise UserError(f"{option} {path}: is {_kind(Path(path))}; give the name of a new {suffix} file")
    return target, appended


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path):
        path = path.parent
    return path


def _check_new_location(path: Path, option: str) -> None:
    """``path`` does not exist: its nearest existing ancestor must be a writable folder."""
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise UserError(f"{option} {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: {ancestor} is not writable")


def _kind(path: Path) -> str:
    """'a folder', 'a device', ... for error messages."""
    st = os.lstat(path)
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISFIFO, "a pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(st.st_mode):
            return name
    return "not a regular file"


def check_output_file(path: str | os.PathLike, *, option: str, is_ours: Callable[[Path], bool], what: str) -> None:
    """Refuse (touching nothing) to write ``path`` unless it is new or an earlier output of ours.

    ``is_ours(path)`` decides for an existing regular file; ``what`` names our kind of file
    in the message ("a bundle written by golden.export"). Symbolic links are refused even
    when they point at our file: replacing the link would destroy it.
    """
    path = Path(path)
    if not os.path.lexists(path):
        _check_new_location(path, option)
        return
    kind = _kind(path)
    if kind != "a file":
        raise UserError(f"{option} {path}: is {kind}; give the name of a new file")
    if not is_ours(path):
        raise UserError(f"{option} {path}: exists and is not {what}; refusing to overwrite it (choose a new name)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: {path.parent} is not writable")


def write_output_file(
    path: str | os.PathLike, write: Writer, *, option: str, is_ours: Callable[[Path], bool], what: str
) -> Path:
    """`check_output_file` again (the world may have changed), then `atomic_write`."""
    check_output_file(path, option=option, is_ours=is_ours, what=what)
    atomic_write(path, write)
    return Path(path)


# ---------------------------------------------------------------------------- output folders


def _plain_name(name: object) -> bool:
    """A file name directly in the folder: a manifest must never point anywhere else."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\0" not in name


def _is_ours(generator: object) -> bool:
    """``"parc-hw"`` or ``"parc-hw 0.1.0"``: the generator field of every manifest we write."""
    return isinstance(generator, str) and generator.split(" ")[0] == GENERATOR


def read_manifest(
    folder: str | os.PathLike, legacy: Callable[[dict], list[str] | None] | None = None, tool: str = "legacy"
) -> dict | None:
    """The manifest of an earlier output of ours in ``folder``, or None if it is not ours.

    Ours: ``manifest.json`` is a regular file holding a JSON object whose ``generator`` is
    ``parc-hw`` (optionally followed by more words) and whose ``files`` is a list of plain
    file names. ``legacy(manifest)`` may recognise an older format of ``tool`` and return the
    files it wrote (they are then attributed to ``tool``, so a re-run removes the stale ones).
    """
    path = Path(folder) / MANIFEST
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    files = data.get("files")
    if _is_ours(data.get("generator")) and isinstance(files, list) and all(_plain_name(f) for f in files):
        by = data.get("written_by")
        if not isinstance(by, dict) or not all(isinstance(v, list) and all(f in files for f in v) for v in by.values()):
            by = {}
        return {**data, "written_by": dict(by)}
    if legacy is not None:
        old = legacy(data)
        if old is not None and all(_plain_name(f) for f in old):
            files = sorted(set(old))
            return {**data, "files": files, "written_by": {tool: files}}
    return None


class OutputFolder:
    """A folder a command writes its files into, under the rule of this module.

    Usage::

        out = OutputFolder(args.out, tool="scripts.bench", option="--out", expect=["bench.md"])
        # ... long computation: the folder was checked up front, nothing is touched yet ...
        with out:
            (out.path / "bench.md").write_text(text)     # out.path is a private staging folder
            out.commit()                                 # or out.commit(content) for manifest keys

    ``tool`` names the writer in the manifest's ``written_by``: several tools may share one
    folder (``reports/`` holds report.* and bench.*), and a re-run of one tool removes only
    the files that tool wrote before and no longer writes. Leaving the ``with`` block without
    `commit` (an exception) removes the staging folder and any folders made for it.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        tool: str,
        option: str = "--out",
        expect: Iterable[str] = (),
        legacy: Callable[[dict], list[str] | None] | None = None,
    ) -> None:
        self.target = Path(path)
        self.tool = tool
        self.option = option
        self.legacy = legacy
        self._staging: Path | None = None
        self._created: list[Path] = []
        self._committed = False
        self.manifest: dict | None = None  # what commit wrote to manifest.json
        self._inspect(list(expect))

    # -- checks (touch nothing) --------------------------------------------------------------

    def _refuse(self, why: str) -> UserError:
        return UserError(f"{self.option} {self.target}: {why}")

    def _inspect(self, names: list[str]) -> dict | None:
        """Check the target; None if it does not exist yet, else the manifest to extend
        (``{}`` for an empty folder). ``names`` are the files about to be written."""
        for name in names:
            if not _plain_name(name) or name == MANIFEST:
                raise ValueError(f"{self.tool} cannot write {name!r}: plain names only, manifest.json is ours")
        target = self.target
        if not os.path.lexists(target):
            _check_new_location(target, self.option)
            return None
        if os.path.islink(target) and not target.exists():
            raise self._refuse("is a broken symbolic link")
        if not target.is_dir():
            raise self._refuse(f"is {_kind(target.resolve())}, not a folder; give a new or empty folder")
        manifest = read_manifest(target, self.legacy, self.tool)
        if manifest is None:
            here = Path.cwd().resolve()
            real = target.resolve()
            if real == here or real in here.parents:
                raise self._refuse(
                    "is the current folder or holds it, and is not an earlier output of parc-hw; give a new folder"
                )
            inner = self._staging.name if self._staging is not None and self._staging.parent == target else None
            if any(entry.name != inner for entry in os.scandir(target)):
                raise self._refuse(
                    f"folder is not empty and holds no {GENERATOR} {MANIFEST} (not an earlier output "
                    "of ours); give a new or empty folder"
                )
            manifest = {}
        if not os.access(target, os.W_OK | os.X_OK):
            raise self._refuse("folder is not writable")
        ours = set(manifest.get("files", ()))
        for name in names:
            path = target / name
            if not os.path.lexists(path):
                continue
            if name not in ours:
                raise self._refuse(f"holds {name}, which no earlier output of ours wrote; refusing to overwrite it")
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise self._refuse(f"{name} is now {_kind(path)}, not the file we wrote; refusing to replace it")
        return manifest

    # -- staging -------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The staging folder to write the files into (exists between `open` and `commit`)."""
        if self._staging is None:
            raise RuntimeError("OutputFolder.path used outside `with`")
        return self._staging

    def open(self) -> Path:
        """Make the staging folder: a hidden sibling of a new target (renamed into place on
        commit), or a hidden folder inside an existing one (same file system for renames)."""
        existing = self._inspect([])
        if existing is None:
            self._created = _make_parents(self.target.parent)
            try:
                staging = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=f".{self.target.name}.parc-hw."))
                os.chmod(staging, folder_mode())
            except BaseException:
                _remove_empty(self._created)
                raise
        else:
            staging = Path(tempfile.mkdtemp(dir=self.target, prefix=".parc-hw-staging."))
        self._staging = staging
        return staging

    def discard(self) -> None:
        """Remove the staging folder and the folders made for it (after a failure)."""
        if self._staging is not None and not self._committed:
            shutil.rmtree(self._staging, ignore_errors=True)
            _remove_empty(self._created)
            self._staging = None

    def __enter__(self) -> OutputFolder:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    # -- publishing ----------------------------------------------------------------------------

    def _manifest(self, old: dict, names: list[str], content: dict | None, final: bool) -> dict:
        """The new manifest: this tool's files replace its old ones; other tools' stay listed.
        Before the files move (``final`` False) it lists old and new, so a crash mid-way
        still leaves a folder a re-run accepts."""
        by = {k: list(v) for k, v in old.get("written_by", {}).items()}
        old_files = set(old.get("files", ()))
        mine_before = set(by.get(self.tool, ()))
        mine = set(names) if final else set(names) | mine_before
        files = (old_files - mine_before) | mine
        by[self.tool] = sorted(mine)
        body = dict(content if content is not None else old)
        if not _is_ours(body.get("generator")):
            body["generator"] = GENERATOR  # keeps its place when the content names the version
        for key in ("files", "written_by"):
            body.pop(key, None)
        return {**body, "files": sorted(files), "written_by": dict(sorted(by.items()))}

    def commit(self, content: dict | None = None) -> list[Path]:
        """Publish the staged files and manifest.json; returns the paths of the files.

        ``content``: keys for manifest.json besides the ownership record (hw.generate's
        driver contract); None keeps those of the earlier manifest.
        """
        staging = self.path
        names = sorted(p.name for p in staging.iterdir())
        for name in names:
            if not stat.S_ISREG(os.lstat(staging / name).st_mode):
                raise ValueError(f"{self.tool} staged {name!r}, which is not a regular file")
        old = self._inspect(names)
        target = self.target
        if old is None:
            self.manifest = self._manifest({}, names, content, True)
            (staging / MANIFEST).write_text(json.dumps(self.manifest, indent=2) + "\n")
            os.rename(staging, target)  # fails (touching nothing) if a non-empty folder appeared meanwhile
        else:
            self._publish_manifest(self._manifest(old, names, content, False))
            for name in names:
                os.replace(staging / name, target / name)
            for stale in sorted(set(old.get("written_by", {}).get(self.tool, ())) - set(names)):
                path = target / stale
                if os.path.lexists(path) and stat.S_ISREG(os.lstat(path).st_mode):
                    path.unlink()
            self.manifest = self._manifest(old, names, content, True)
            self._publish_manifest(self.manifest)
            staging.rmdir()
        self._committed = True
        self._staging = None
        return [target / name for name in names]

    def _publish_manifest(self, manifest: dict) -> None:
        tmp = self.path / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, self.target / MANIFEST)


def publish(folder: OutputFolder, writers: Mapping[str, Callable[[Path], object]]) -> list[Path]:
    """Write each file with its writer into the staged ``folder``, then publish them all with
    the folder's manifest.json (`OutputFolder`); returns the published paths."""
    with folder:
        for name, write in writers.items():
            write(folder.path / name)
        folder.commit()
    return [folder.target / name for name in writers]
