"""Read commits, ranges and staged changes of a Git repository on this machine.

Everything goes through the ``git`` program, with argument lists and never a
shell. Each revision the user names is first resolved to an object id with
``git rev-parse --verify --end-of-options`` (git-rev-parse(1)), so that a name
is never read as an option and an unknown one fails with a clear sentence.
The diff options override the settings of the user's configuration that would
change the output the parser reads: colours, external diff drivers, text
conversion, path prefixes and quoting of non-ASCII paths (git-config(1)).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ai_code_reviewer.errors import ConfigError, GitHostError, InvalidRequest
from ai_code_reviewer.githost.base import Person
from ai_code_reviewer.review.diff import parse_unified_diff_bytes
from ai_code_reviewer.review.model import Diff

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0
DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-relative",
    "--find-renames",
    "--submodule=short",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
# Settings of the user's configuration that would change what is read.
_CONFIG = ("-c", "core.quotepath=off", "-c", "log.showSignature=false")
# git's own test for a binary file: a NUL byte in the first 8000 bytes
# (buffer_is_binary() in git's xdiff-interface.c).
_BINARY_PROBE = 8000


@dataclass(frozen=True)
class Selection:
    """The two sides of a change: ``base`` and ``head`` object ids.

    ``base`` is a commit or, before a root commit, the empty tree; ``head`` is
    a commit, or None for the index (the staged changes). ``label`` is what the
    user asked for, to name the review.
    """

    base: str
    head: str | None
    label: str


class LocalRepository:
    """A Git repository in a folder of this machine, read with the git program."""

    def __init__(self, path: Path | str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        """Open the repository at ``path``.

        Raises:
            InvalidRequest: ``path`` is not a folder inside a Git work tree or
                a bare repository.
            ConfigError: git is not installed.
        """
        self.path = Path(path).resolve()
        self.timeout = timeout
        if not self.path.exists():
            raise InvalidRequest(f"{self.path} does not exist.")
        if not self.path.is_dir():
            raise InvalidRequest(f"{self.path} is not a folder.")
        if self._git("rev-parse", "--git-dir", check=False).returncode != 0:
            raise InvalidRequest(f"{self.path} is not in a Git repository.")

    def select(self, spec: str | None = None, *, staged: bool = False) -> Selection:
        """Return the sides of ``REV``, ``REV1..REV2``, ``REV1...REV2`` or the index.

        ``REV`` is the commit's own change against its first parent; with
        ``staged``, the index against HEAD (the empty tree before any commit).
        Nothing given means HEAD.

        Raises:
            InvalidRequest: a revision is not a commit of the repository.
        """
        if staged:
            if spec:
                raise InvalidRequest("Review either a revision or the staged changes.")
            return Selection(self._head_or_empty(), None, "staged changes")
        spec = spec or "HEAD"
        if "..." in spec:
            start, end = self._ends(spec, "...")
            return Selection(self._merge_base(start, end), end, spec)
        if ".." in spec:
            start, end = self._ends(spec, "..")
            return Selection(start, end, spec)
        head = self.commit(spec)
        return Selection(self._first_parent(head), head, spec)

    def diff(self, spec: str | None = None, *, staged: bool = False) -> Diff:
        """Return the parsed diff of ``spec`` (see :meth:`select`)."""
        return self.diff_of(self.select(spec, staged=staged))

    def diff_of(self, selection: Selection) -> Diff:
        """Return the parsed diff between the two sides of ``selection``.

        Raises:
            InvalidRequest: the two sides do not differ.
        """
        if selection.head is None:
            sides = ["--cached", selection.base]
        else:
            sides = [selection.base, selection.head]
        output = self._git("diff", *DIFF_OPTIONS, *sides).stdout
        if not output.strip():
            raise InvalidRequest(_nothing_to_review(selection))
        return parse_unified_diff_bytes(output)

    def commit(self, rev: str) -> str:
        """Return the object id of the commit ``rev`` names.

        Raises:
            InvalidRequest: ``rev`` is not a commit of the repository.
        """
        if not rev:
            raise InvalidRequest("An empty revision names no commit.")
        found = self._git(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev}^{{commit}}",
            check=False,
        )
        if found.returncode != 0:
            raise InvalidRequest(f"{rev!r} is not a commit of {self.path}.")
        return _text(found.stdout).strip()

    def author(self, rev: str = "HEAD") -> Person:
        """Return the author of the commit ``rev``."""
        name, _, email = self._show(rev, "%an%x00%ae").partition("\0")
        return Person(name or None, email or None)

    def title(self, rev: str = "HEAD") -> str:
        """Return the subject line of the commit ``rev``."""
        return self._show(rev, "%s")

    def source(self, rev: str | None, path: str) -> str | None:
        """Return the text of ``path`` at the commit ``rev`` (None: in the index).

        None when the file is not there (deleted, a submodule) or is binary.
        """
        where = f"{self.commit(rev)}:{path}" if rev is not None else f":0:{path}"
        found = self._git("cat-file", "blob", where, check=False)
        if found.returncode != 0 or b"\0" in found.stdout[:_BINARY_PROBE]:
            return None
        return _text(found.stdout)

    def reader(self, selection: Selection) -> Callable[[str], str | None]:
        """Return a reader of the files' text in the reviewed side of ``selection``.

        It is the ``SourceReader`` of ``llm.base`` that the built-in reviewer
        takes to run ruff on whole files.
        """

        def read(path: str) -> str | None:
            return self.source(selection.head, path)

        return read

    def _ends(self, spec: str, separator: str) -> tuple[str, str]:
        """Resolve the two ends of a range; an empty end is HEAD, as in git."""
        start, _, end = spec.partition(separator)
        return self.commit(start or "HEAD"), self.commit(end or "HEAD")

    def _merge_base(self, start: str, end: str) -> str:
        found = self._git("merge-base", start, end, check=False)
        if found.returncode != 0:
            raise InvalidRequest(f"{start[:12]} and {end[:12]} have no common commit.")
        return _text(found.stdout).strip()

    def _first_parent(self, commit: str) -> str:
        """Return the first parent of ``commit``, or the empty tree for a root."""
        parents = self._git("rev-list", "--parents", "-n", "1", commit).stdout.split()
        return _text(parents[1]) if len(parents) > 1 else self._empty_tree()

    def _head_or_empty(self) -> str:
        head = self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return (
            _text(head.stdout).strip() if head.returncode == 0 else self._empty_tree()
        )

    def _empty_tree(self) -> str:
        # Asked of git rather than written down: SHA-256 repositories differ.
        return _text(self._git("hash-object", "-t", "tree", "--stdin").stdout).strip()

    def _show(self, rev: str, pattern: str) -> str:
        output = self._git(
            "show",
            "--no-patch",
            f"--format={pattern}",
            self.commit(rev),
        ).stdout
        return _text(output).removesuffix("\n")

    def _git(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git in the repository; with ``check``, a failure is a GitHostError."""
        command = ["git", *_CONFIG, *args]
        try:
            done = subprocess.run(  # noqa: S603  # argument list, no shell
                command,
                cwd=self.path,
                input=b"",
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError("git is not installed or not on PATH.") from None
        except subprocess.TimeoutExpired:
            message = f"git {args[0]} took longer than {self.timeout:g} seconds."
            raise GitHostError(message) from None
        if check and done.returncode != 0:
            logger.warning(
                "local_git.failed", extra={"command": args[0], "code": done.returncode}
            )
            raise GitHostError(f"git {args[0]} failed: {_first_line(done.stderr)}")
        return done


def _nothing_to_review(selection: Selection) -> str:
    if selection.head is None:
        return "Nothing is staged: there is no change to review."
    return f"{selection.label} changes nothing: there is no change to review."


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _first_line(stderr: bytes) -> str:
    lines = _text(stderr).strip().splitlines()
    return lines[0] if lines else "it gave no reason."
