"""Errors raised by publishing.

    TesseraError (content.errors)
    └── PublishError                 a publish could not finish; the live site is unchanged
        ├── StorageError             the bucket refused or could not be reached (check credentials, endpoint)
        └── DeployNotFound           no deploy with that id (see `tessera deploys TENANT`)
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
