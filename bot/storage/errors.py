"""The storage layer's own exceptions, so callers never need to catch driver errors."""


class StorageError(Exception):
    """Something went wrong in Banter's storage layer."""


class DatabaseLockedError(StorageError):
    """Another process kept the database locked through every retry."""


class NotADatabaseError(StorageError):
    """The configured SQLite file exists but is not an SQLite database; it was left untouched."""


class StorageClosedError(StorageError):
    """A call was made after Storage.close()."""
