"""The folder the file tools may read: its boundary, what it withholds, and safe opening.

*Boundary.* A path that leaves the root (`..`, an absolute path elsewhere, a link pointing
out) is refused. A file is opened first and checked after: the path the open descriptor
really has (`/proc/self/fd/N`) must lie inside the root, so a folder swapped for a symlink
between a check and the open cannot lead out. Only regular files are read (a FIFO, a
device, `/dev/zero` are refused after `fstat`, never read).

*Withheld.* Likely secrets and what is not the project's own text are skipped by Glob and
Grep (never listed, searched or descended into) and refused by Read: the DEFAULT_DENY
patterns (gitignore syntax), a virtualenv (a folder with `pyvenv.cfg`) and whatever the
workspace's `.gitignore` files ignore (nested ones too, and those of the folders above it
up to the git repository's root). The workflow's `workspace: {allow: [...]}` patterns
(gitignore syntax, relative to the workspace) let chosen paths through.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentflow.guard.readfile import UnreadableFile, read_limited
from agentflow.tools.base import ToolError

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

# gitignore syntax: a name without `/` matches at any depth, a trailing `/` only folders.
DEFAULT_DENY: tuple[str, ...] = (
    # environment files
    ".env", ".env.*", ".envrc",
    # private keys and certificates
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.pem", "*.key", "*.p12", "*.pfx",
    "*.jks", "*.keystore", "*.gpg", "*.asc",
    # credential files
    ".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass", ".git-credentials", ".htpasswd",
    "credentials", "credentials.*", ".aws/", ".ssh/", ".gnupg/", ".docker/config.json",
    ".kube/config", "*.tfstate", "*.tfstate.*",
    # not the project's own text: version control, agentflow's state, dependencies
    ".git/", ".agentflow/", "node_modules/",
)  # fmt: skip
NOT_PROJECT = frozenset({".git/", ".agentflow/", "node_modules/"})
GITIGNORE = ".gitignore"
VENV_MARKER = "pyvenv.cfg"
MAX_GITIGNORE_BYTES = 1024 * 1024
GITIGNORE_FRESH_SECONDS = 2.0  # a .gitignore changed during a run is seen this soon
_MAX_PARENTS = 40  # how far up a git repository's root is looked for
_OPEN = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_PROC_FD = os.path.isdir("/proc/self/fd")  # Linux: where an open descriptor really is


class Workspace:
    """The folder the tools may read; every path goes through `resolve` and `open_file`."""

    def __init__(self, root: Path, *, allow: Sequence[str] = ()) -> None:
        self.root = Path(os.path.realpath(root))
        self._prefix = os.path.join(self.root, "")  # `root/`
        self.allow = tuple(allow)
        self._compiled: tuple[GitIgnoreSpec, GitIgnoreSpec] | None = None
        self._ignores: dict[str, _Rules] = {}  # by folder: its .gitignore's rules
        self._parents = _parents_in_repository(self.root)

    @property
    def _deny(self) -> GitIgnoreSpec:
        return self._specs()[0]

    @property
    def _allow(self) -> GitIgnoreSpec:
        return self._specs()[1]

    def _specs(self) -> tuple[GitIgnoreSpec, GitIgnoreSpec]:
        """The deny and allow rules, compiled on first use (a run without file tools
        never loads pathspec)."""
        if self._compiled is None:
            from pathspec import GitIgnoreSpec

            deny, allow = (
                GitIgnoreSpec.from_lines(DEFAULT_DENY),
                GitIgnoreSpec.from_lines(self.allow),
            )
            self._compiled = (deny, allow)
        return self._compiled

    # -- the boundary --------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The real path of `path` (relative to the root), checked to be inside the root
        and not withheld; ToolError otherwise."""
        if "\x00" in path:
            raise ToolError(f"path contains a NUL byte: {path!r}")
        candidate = Path(path).expanduser() if path.startswith("~") else Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        # resolve() follows symlinks, so a link pointing out is caught like a `..` escape
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError) as error:  # e.g. a symlink loop
            raise ToolError(f"cannot resolve {path}: {error}") from None
        if not resolved.is_relative_to(self.root):
            raise ToolError(
                f"path escapes the workspace: {path}; paths are relative to {self.root}"
            )
        named = Path(os.path.normpath(candidate))
        if named.is_relative_to(self.root):
            self.check(named, shown=path)  # as named (a link's own name)
        self.check(resolved, shown=path)  # and where it leads
        return resolved

    def relative(self, path: str | os.PathLike[str]) -> str:
        text = os.fspath(path)
        if text.startswith(self._prefix):  # (string work: this runs once per file)
            return text[len(self._prefix) :]
        return Path(path).relative_to(self.root).as_posix()

    def inside(self, path: str) -> bool:
        """Whether the real path `path` is the root or below it."""
        return path == str(self.root) or path.startswith(self._prefix)

    def open_file(self, path: str | Path, shown: str) -> int:
        """A descriptor of the regular file at `path` (checked by `resolve` or found by
        `walk`), opened first and verified after: its real path is inside the root and,
        when it is not `path` itself, not withheld. The caller closes it."""
        try:
            fd = os.open(path, _OPEN)
        except OSError as error:
            raise ToolError(f"cannot open {shown}: {error.strerror or error}") from None
        try:
            real = _real_path(fd, path)
            if not self.inside(real):
                raise ToolError(f"path escapes the workspace: {shown}")
            if real != os.path.normpath(path):  # (the path asked for is checked already)
                self.check(real, shown=shown)
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise ToolError(f"{shown} is a directory, not a file; use Glob to list its files")
            if not stat.S_ISREG(mode):
                raise ToolError(f"not a regular file: {shown} (a FIFO, device or socket)")
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- what is withheld ----------------------------------------------------------------

    def check(self, path: str | os.PathLike[str], *, shown: str) -> None:
        """ToolError when `path` (inside the root) or a folder above it is withheld."""
        rel = Path(path).relative_to(self.root).as_posix()
        if rel == ".":
            return
        reason = self.withheld(rel, is_dir=os.path.isdir(path))
        if reason is not None:
            raise ToolError(
                f"{shown} is withheld from agents: {reason}. If agents should read it, "
                f"the workflow's author can allow it: workspace: {{path: ..., allow: [{rel!r}]}}"
            )

    def withheld(self, rel: str, *, is_dir: bool) -> str | None:
        """Why the workspace path `rel` (or a folder above it) is withheld, or None."""
        if self.allow and self._allow.match_file(rel + "/" * is_dir):
            return None
        parts = rel.split("/")
        for end in range(1, len(parts) + 1):
            reason = self.own_reason("/".join(parts[:end]), is_dir=is_dir or end < len(parts))
            if reason is not None:
                return reason
        return None

    def own_reason(self, rel: str, *, is_dir: bool) -> str | None:
        """Why `rel` itself is withheld (its folders not looked at), or None."""
        key = rel + "/" * is_dir
        if self.allow and self._allow.match_file(key):
            return None
        hit = self._deny.check_file(key)
        if hit.include and hit.index is not None:
            pattern = DEFAULT_DENY[hit.index]
            what = "not the project's own text" if pattern in NOT_PROJECT else "a likely secret"
            return f"it matches {pattern!r}, {what}"
        if is_dir and os.path.isfile(os.path.join(self.root, rel, VENV_MARKER)):
            return f"it is a virtualenv (has {VENV_MARKER})"
        source = self._gitignored(key)
        if source is not None:
            return f"{source} ignores it"
        return None

    def _gitignored(self, key: str) -> str | None:
        """The .gitignore that ignores `key` (the deepest that has a say decides, as in
        git), or None."""
        parts = key.rstrip("/").split("/")
        root = str(self.root)
        views: list[tuple[str, str]] = []
        for end in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:end])
            if folder:
                views.append((f"{root}/{folder}", key[len(folder) + 1 :]))
            else:
                views.append((root, key))
        for parent, prefix in self._parents:  # the root as seen from a folder above it
            spec = self._ignore_file(parent)
            if spec is not None and not spec.check_file(prefix).include:
                views.append((parent, prefix + key))  # (unless it ignores the root itself)
        for folder, seen in views:
            spec = self._ignore_file(folder)
            hit = spec.check_file(seen) if spec is not None else None
            if hit is not None and hit.include is not None:
                return _shown_gitignore(Path(folder), self.root) if hit.include else None
        return None

    def _ignore_file(self, folder: str) -> GitIgnoreSpec | None:
        """The rules of `folder`'s .gitignore (None: it has none), read again when the file
        changed; whether it changed is looked at most every GITIGNORE_FRESH_SECONDS."""
        now = time.monotonic()
        known = self._ignores.get(folder)
        if known is not None and now - known.checked < GITIGNORE_FRESH_SECONDS:
            return known.spec
        path = os.path.join(folder, GITIGNORE)
        try:
            info = os.stat(path)
            signature = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            signature = None
        if known is not None and known.signature == signature:
            self._ignores[folder] = _Rules(now, signature, known.spec)
            return known.spec
        spec = None
        if signature is not None:
            try:
                text = read_limited(Path(path), limit=MAX_GITIGNORE_BYTES, what=".gitignore")
                from pathspec import GitIgnoreSpec

                spec = GitIgnoreSpec.from_lines(text.decode("utf-8", "replace").splitlines())
            except (UnreadableFile, ValueError, TypeError):
                spec = None  # an unreadable or invalid .gitignore ignores nothing
        self._ignores[folder] = _Rules(now, signature, spec)
        return spec

    # -- walking ------------------------------------------------------------------------

    def walk(self, start: Path, max_depth: int | None = None) -> Iterator[str]:
        """Files under `start` (absolute, unresolved link paths), withheld ones left out
        and withheld folders not entered (unless an allow pattern names a path inside
        one); never leaves the root. Each folder is opened, then verified inside the
        root, then listed from that descriptor. Symlinked folders are not descended
        (cycles, and their files have a real path)."""
        skip = len(self._prefix)
        stack: list[tuple[str, int, bool]] = [(str(start), 1, False)]
        while stack:
            folder, level, hidden = stack.pop()  # hidden: inside a withheld folder
            for path, kind in self._list(folder):
                rel = path[skip:]
                if kind == "dir":
                    if max_depth is not None and level >= max_depth:
                        continue
                    if not hidden and not self.own_reason(rel, is_dir=True):
                        stack.append((path, level + 1, False))
                    elif self._allowed_below(rel):
                        stack.append((path, level + 1, True))
                elif self._shown(rel, hidden) and (kind == "file" or self._link_readable(path)):
                    yield path

    def _shown(self, rel: str, hidden: bool) -> bool:
        if hidden:
            return bool(self.allow) and self._allow.match_file(rel)
        return self.own_reason(rel, is_dir=False) is None

    def _allowed_below(self, rel: str) -> bool:
        """Whether an allow pattern names a path inside the folder `rel` (`config/x.key`
        for `config`): only then is a withheld folder entered, to find it."""
        if self.allow and self._allow.match_file(rel + "/"):
            return True
        inside = rel + "/"
        return any(p.lstrip("/").startswith(inside) for p in self.allow)

    def _list(self, folder: str) -> list[tuple[str, str]]:
        """(path, "dir" | "file" | "link") of a folder's entries; nothing if it cannot be
        opened as a folder inside the root (it was swapped for a link, say)."""
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return []
        try:
            if not self.inside(_real_path(fd, folder)):
                return []
            found: list[tuple[str, str]] = []
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_symlink():
                            kind = "link"
                        elif entry.is_dir(follow_symlinks=False):
                            kind = "dir"
                        elif entry.is_file(follow_symlinks=False):
                            kind = "file"
                        else:
                            continue  # FIFOs, sockets, devices: never files to read
                    except OSError:
                        continue
                    found.append((os.path.join(folder, entry.name), kind))
            return found
        except OSError:
            return []  # unreadable folder: skip rather than fail the whole search
        finally:
            os.close(fd)

    def _link_readable(self, path: str) -> bool:
        """A symlink worth listing: to a regular file inside the root, not withheld."""
        try:
            real = Path(path).resolve()
            if not real.is_relative_to(self.root) or not real.is_file():
                return False
            return self.withheld(self.relative(real), is_dir=False) is None
        except (OSError, RuntimeError):
            return False


@dataclass(frozen=True)
class _Rules:
    checked: float  # time.monotonic() when the file was last looked at
    signature: tuple[int, int, int] | None  # (mtime, size, inode); None: no such file
    spec: GitIgnoreSpec | None


def _real_path(fd: int, opened: str | os.PathLike[str]) -> str:
    """Where the open descriptor `fd` really is: from /proc on Linux; elsewhere the path
    resolved after the open, accepted only when it is the very file that was opened."""
    if _PROC_FD:
        return os.readlink(f"/proc/self/fd/{fd}")
    real = os.path.realpath(opened)
    mine, theirs = os.fstat(fd), os.stat(real)
    if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
        raise ToolError(f"{opened} changed while it was opened; try again")
    return real


def _parents_in_repository(root: Path) -> list[tuple[str, str]]:
    """The folders above `root` up to its git repository's root (none outside a
    repository), each with the root's path seen from it (`sub/dir/`)."""
    if (root / ".git").exists():
        return []
    found: list[tuple[str, str]] = []
    for parent in list(root.parents)[:_MAX_PARENTS]:
        found.append((str(parent), root.relative_to(parent).as_posix() + "/"))
        if (parent / ".git").exists():
            return found
    return []


def _shown_gitignore(folder: Path, root: Path) -> str:
    path = folder / GITIGNORE
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
