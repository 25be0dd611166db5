"""A small family of exceptions, each a subclass of a built-in.

Every error raised on purpose by the engine derives from :class:`WhistleError`, so the
command line can print it as one clear line, and callers that only know the built-ins
(``ValueError``, ``RuntimeError``) still catch what they expect.
"""

from __future__ import annotations


class WhistleError(Exception):
    """Base of every error the platform raises on purpose."""


class ValidationError(WhistleError, ValueError):
    """Input that cannot be used as given; the message names the value and the fix."""


class BoundaryError(ValidationError):
    """A boundary file or boundary set that cannot be loaded."""


class ClusterError(WhistleError, RuntimeError):
    """The local PostgreSQL/PostGIS cluster cannot be set up, started or stopped."""


class DatabaseError(WhistleError, RuntimeError):
    """The database cannot be reached or is not in the expected state."""


class ConflictError(WhistleError, RuntimeError):
    """Someone else changed the record since the caller read it (its version moved on)."""


class AccessError(WhistleError, PermissionError):
    """The signed-in user may not see or do this (e.g. another township's complaints)."""
