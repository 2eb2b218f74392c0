"""What every group of settings shares: the variables' prefix, and reading the file a ``*_FILE`` variable names."""

from __future__ import annotations

from pathlib import Path

ENV_PREFIX = "SCALER_"


def read_setting_file(path: Path, variable: str) -> str:
    """Return the content of the file a ``*_FILE`` setting names, stripped of surrounding whitespace.

    Raises ``ValueError`` starting with ``variable`` and the path when the file cannot be
    read, is not UTF-8 text or holds only whitespace.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{variable}: {path} cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{variable}: {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"{variable}: {path} is empty")
    return text
