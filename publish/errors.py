"""Errors raised by publishing.

    TesseraError (content.errors)
    └── PublishError                 a publish could not finish; the live site is unchanged
        ├── StorageError             the bucket refused or could not be reached (check credentials, endpoint)
        ├── DeployNotFound           no deploy with that id (see `tessera deploys TENANT`)
        └── NotRetryable             a job that is not failed (or does not exist) cannot be retried
    InvalidRange (TesseraError)      a report's dates are not YYYY-MM-DD, end before they start or span too long
    BackupError (TesseraError)       a tenant.db backup or restore could not be made; the live database is unchanged
        ├── BackupNotFound           no backup at or before that time (see `tessera tenant backups SLUG`)
        ├── CorruptBackup            the backup's bytes do not match its checksum, or it is not a sound database
        └── NewerSchema              the backup was made by a newer Tessera than this one; upgrade first
"""

from __future__ import annotations

from content.errors import TesseraError


class PublishError(TesseraError):
    code = "publish_failed"


class StorageError(PublishError):
    code = "storage_error"


class DeployNotFound(PublishError):
    code = "not_found"
    status = 404


class NotRetryable(PublishError):
    code = "conflict"
    status = 409


class InvalidRange(TesseraError):
    code = "bad_request"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class BackupError(TesseraError):
    code = "backup_failed"


class BackupNotFound(BackupError):
    code = "not_found"
    status = 404


class CorruptBackup(BackupError):
    code = "corrupt_backup"


class NewerSchema(BackupError):
    code = "newer_schema"
