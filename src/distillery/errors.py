"""Errors raised for bad user input: one line that names the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path


class DistilleryError(Exception):
    """Base class for errors that end a workflow step with a readable one-line message."""


def reason(exc: BaseException, limit: int = 160) -> str:
    """A low-level exception as a short single line (parsers often raise multi-line text).
    A long one keeps its start and its end: wrapping exceptions (HTTP clients, for one) put
    the cause last."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


class InputError(DistilleryError):
    """Bad input data: names the file, the field (or row), what was found and what was expected."""

    def __init__(
        self,
        path: str | Path,
        field: str,
        found: object,
        expected: object,
        fix: str | None = None,
    ) -> None:
        self.path = str(path)
        self.field = field
        self.found = found
        self.expected = expected
        self.fix = fix
        message = f"{self.path}: {field}: found {found}, expected {expected}"
        if fix:
            message += f"; fix: {fix}"
        super().__init__(message)


class ConfigError(DistilleryError):
    """The workflow configuration is invalid."""
