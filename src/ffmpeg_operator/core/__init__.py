"""Pure domain layer: models, validation, placeholders, references, argv, parsers. No I/O.

Only the standard library and pydantic may be imported here (import-linter enforces it).
"""
