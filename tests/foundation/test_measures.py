"""The size measures of tests/measures.py find what they say they find."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.measures import Measure, import_cycles, long_functions, long_modules


def _package(root: Path, name: str, files: dict[str, str]) -> Path:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for file, text in files.items():
        (package / file).write_text(text)
    return package


def test_long_modules_and_functions_are_counted_with_their_place(tmp_path: Path) -> None:
    """A 5-line function and a 7-line module are over limits of 4 and 6; shorter ones are not listed."""
    body = "def long():\n" + "    x = 1\n" * 4 + "\n\ndef short():\n    return 1\n"
    package = _package(tmp_path, "sized", {"big.py": body, "small.py": "x = 1\n"})
    assert ([Measure(9, "sized/big.py")], [Measure(5, "sized/big.py:1 long")]) == (
        long_modules(package, limit=6),
        long_functions(package, limit=4),
    )


def test_an_import_cycle_between_two_modules_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """a imports b at the top, b imports a inside a function: one cycle, the lazy import counted."""
    _package(
        tmp_path,
        "cyclic",
        {"a.py": "import cyclic.b\n", "b.py": "def late():\n    import cyclic.a\n", "c.py": "import cyclic.a\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [["cyclic.a", "cyclic.b"]] == import_cycles("cyclic")


def test_the_product_keeps_to_the_measures() -> None:
    """scaler/ has no module over 400 lines but metrics.py (it only declares the metrics and writes their
    per-deployment series, and says so), no function over 60 lines, and no import cycle between files."""
    package = Path(__file__).resolve().parents[2] / "scaler"
    assert ([Measure(len((package / "metrics.py").read_text().splitlines()), "scaler/metrics.py")], [], []) == (
        long_modules(package),
        long_functions(package),
        import_cycles("scaler"),
    )
