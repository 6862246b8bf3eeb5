"""Errors the core raises. Each says what was wrong and what to change."""


class TraceInputError(ValueError):
    """A caller's mistake in a trace request: bad text, target or intervention. `code` is a short slug."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class ModelFileError(ValueError):
    """A model directory or weight file that cannot be loaded or imported."""
