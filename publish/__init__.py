"""Publishing: storage backends (local folders, S3), deploys with diff uploads and rollback, the edge server."""
