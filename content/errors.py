"""Errors raised by the content package.

    TesseraError                      base of every error a user can act on
    ├── ContentErrors                 one or more problems in a site's files (fix the files)
    ├── ConflictError                 a save based on a stale version (merge and save again)
    ├── RepositoryError               git refused an operation (see the message; nothing changed)
    ├── PathError                     a path outside the repository or in a forbidden place
    ├── ArchiveError                  an export archive that is not one, or unsafe (nothing imported)
    └── RegistryError                 tenant registry problems
        ├── InvalidSlug               the slug breaks the naming rules (pick another)
        ├── InvalidValue              a field such as a feature or status is not one we know
        ├── TenantExists              the slug or domain is taken (pick another)
        └── TenantNotFound            no tenant by that slug (check `tessera tenant list`)

``ContentErrors`` carries a list of ``ContentError`` records, each naming file, line and field so
that an editor can fix the file from the message alone.
"""

from __future__ import annotations

from dataclasses import dataclass


class TesseraError(Exception):
    """Base class: the message is written for the person who has to act on it."""

    code = "error"
    status = 400


@dataclass(frozen=True, order=True)
class ContentError:
    """One problem in one file: ``products/rye.md:4: price: "12,50" is not a decimal``."""

    path: str
    line: int | None
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}"

    def as_exception(self) -> "ContentErrors":
        return ContentErrors([self])


class ContentErrors(TesseraError):
    """The site's files have problems; every one of them is listed."""

    code = "invalid_content"
    status = 422

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = sorted(set(errors), key=lambda e: (e.path, e.line or 0, e.message))
        count = len(self.errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the site's files:\n{lines}")


class ConflictError(TesseraError):
    """Someone changed the file since the version this edit started from.

    Carries both versions so that the editor can merge them: ``theirs`` is what is in the
    repository now (``None`` when it was deleted), ``yours`` what this save tried to write.
    """

    code = "conflict"
    status = 409

    def __init__(self, path: str, *, base: str, head: str, theirs: bytes | None,
                 yours: bytes | None) -> None:
        self.path, self.base, self.head = path, base, head
        self.theirs, self.yours = theirs, yours
        super().__init__(
            f"{path} was changed by someone else since version {base[:10]} "
            f"(now {head[:10]}); merge the two versions and save again"
        )


class RepositoryError(TesseraError):
    """Git refused an operation; the repository is unchanged."""

    code = "repository_error"
    status = 500


class PathError(TesseraError):
    """A path that escapes the repository or touches its internals."""

    code = "invalid_path"


class ArchiveError(TesseraError):
    code = "bad_archive"


class RegistryError(TesseraError):
    code = "registry_error"


class InvalidSlug(RegistryError):
    code = "invalid_slug"


class InvalidValue(RegistryError):
    code = "invalid_value"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class TenantExists(RegistryError):
    code = "exists"
    status = 409


class TenantNotFound(RegistryError):
    code = "not_found"
    status = 404
