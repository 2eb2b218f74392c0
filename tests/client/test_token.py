"""The token source: static or file, rotation picked up without a restart, never shown."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from scaler.logs import redact
from scaler.settings import load_settings
from scaler.simplismart.errors import ConfigurationError
from scaler.simplismart.token import TokenSource, file_readable_by_others
from tests.client.fakes import ScriptedPlatform, make_client


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_static_token_is_returned_as_given() -> None:
    """TokenSource.static gives its token back, surrounding whitespace removed."""
    assert "abc-123-static" == TokenSource.static("  abc-123-static\n").get()


def test_a_pasted_bearer_prefix_is_removed() -> None:
    """A token pasted with its 'Bearer ' prefix is not sent as 'Bearer Bearer ...'."""
    assert "abc-123-static" == TokenSource.static("Bearer abc-123-static").get()


def test_a_file_token_is_read_and_stripped(tmp_path: Path) -> None:
    """The file's content, without the trailing newline, is the token."""
    path = _write(tmp_path / "token", "file-token-1\n")
    assert "file-token-1" == TokenSource.from_file(path).get()


def test_a_rotated_file_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    """Writing a new token into the file changes what get() returns next."""
    path = _write(tmp_path / "token", "file-token-1")
    source = TokenSource.from_file(path)
    _write(path, "file-token-2-longer")
    assert "file-token-2-longer" == source.get()


def test_rotation_by_atomic_rename_is_picked_up(tmp_path: Path) -> None:
    """A secret replaced by rename (as Kubernetes does) is a new inode: re-read even with equal size and mtime."""
    path = _write(tmp_path / "token", "token-AAAA")
    source = TokenSource.from_file(path)
    info = path.stat()
    replacement = _write(tmp_path / "token.new", "token-BBBB")
    os.utime(replacement, ns=(info.st_atime_ns, info.st_mtime_ns))
    replacement.replace(path)
    assert "token-BBBB" == source.get()


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    """While inode, size and mtime are unchanged the cached token is used (no read per request)."""
    path = _write(tmp_path / "token", "token-AAAA")
    source = TokenSource.from_file(path)
    info = path.stat()
    path.write_text("token-ZZZZ")  # same inode and size; the mtime is put back below
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert "token-AAAA" == source.get()


async def test_the_client_sends_the_rotated_token(tmp_path: Path) -> None:
    """Requests before and after a rotation carry the old and then the new token."""
    path = _write(tmp_path / "token", "client-token-old")
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform, token=TokenSource.from_file(path)) as client:
        await client.list_deployments()
        _write(path, "client-token-new")
        await client.list_deployments()
    assert ["Bearer client-token-old", "Bearer client-token-new"] == [
        request.headers["authorization"] for request in platform.requests
    ]


def test_a_half_written_rotation_keeps_the_last_good_token(tmp_path: Path) -> None:
    """An empty file during a rotation keeps the previous token (with one warning) until the new one lands."""
    path = _write(tmp_path / "token", "good-token-1")
    source = TokenSource.from_file(path)
    _write(path, "")
    with capture_logs() as logs:
        during = [source.get(), source.get()]
    _write(path, "good-token-2")
    assert (["good-token-1", "good-token-1"], "good-token-2") == (during, source.get())
    assert ["api_token_file_unusable"] == [entry["event"] for entry in logs]


@pytest.mark.parametrize("content", ["", "  \n"])
def test_an_empty_file_names_the_variable(tmp_path: Path, content: str) -> None:
    """A file with no token fails at once, naming SCALER_API_TOKEN_FILE and the path."""
    path = _write(tmp_path / "token", content)
    with pytest.raises(ConfigurationError) as caught:
        TokenSource.from_file(path)
    assert f"SCALER_API_TOKEN_FILE {path} is empty" == str(caught.value)


def test_a_missing_file_names_the_variable(tmp_path: Path) -> None:
    """A missing file fails at once, naming SCALER_API_TOKEN_FILE."""
    path = tmp_path / "absent"
    with pytest.raises(ConfigurationError, match=f"SCALER_API_TOKEN_FILE {path} cannot be read"):
        TokenSource.from_file(path)


def test_no_token_at_all_names_both_variables() -> None:
    """Settings without a token give an error naming SCALER_API_TOKEN and SCALER_API_TOKEN_FILE."""
    with pytest.raises(ConfigurationError) as caught:
        TokenSource.from_settings(load_settings(api_token=None, api_token_file=None))
    assert "no API token: set SCALER_API_TOKEN or SCALER_API_TOKEN_FILE" == str(caught.value)
    assert "auth" == caught.value.reason


def test_an_empty_static_token_names_the_variable() -> None:
    """SCALER_API_TOKEN set to blanks is refused."""
    with pytest.raises(ConfigurationError, match="SCALER_API_TOKEN is empty"):
        TokenSource.from_settings(load_settings(api_token="   "))


def test_the_file_wins_over_the_variable(tmp_path: Path) -> None:
    """With both set, SCALER_API_TOKEN_FILE is used (as the settings document)."""
    path = _write(tmp_path / "token", "from-the-file")
    settings = load_settings(api_token="from-the-variable", api_token_file=path)
    assert "from-the-file" == TokenSource.from_settings(settings).get()


def test_a_file_readable_by_others_warns_once(tmp_path: Path) -> None:
    """Mode 0644 logs api_token_file_readable_by_others once, however often the token is read."""
    path = _write(tmp_path / "token", "shared-token-1", mode=0o644)
    with capture_logs() as logs:
        source = TokenSource.from_file(path)
        _write(path, "shared-token-2", mode=0o644)
        source.get()
    warnings = [entry for entry in logs if entry["event"] == "api_token_file_readable_by_others"]
    assert [("0o644", "warning")] == [(entry["mode"], entry["log_level"]) for entry in warnings]


def _status(mode: int, gid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | mode, 1, 1, 1, 0, gid, 10, 0, 0, 0))


def test_a_file_readable_by_the_processs_own_group_does_not_count_as_exposed() -> None:
    """Group read for one of this process's groups (a Kubernetes fsGroup mount) exposes it to no one else."""
    assert file_readable_by_others(_status(0o440, os.getegid())) is False


def test_a_file_readable_by_a_foreign_group_counts_as_exposed() -> None:
    """Group read for a group this process is not in lets that group's other users read the token."""
    foreign = max({os.getegid(), *os.getgroups()}) + 1
    assert file_readable_by_others(_status(0o440, foreign)) is True


def test_a_world_readable_file_counts_as_exposed_whatever_its_group() -> None:
    """Read for others is always an exposure."""
    assert file_readable_by_others(_status(0o604, os.getegid())) is True


def test_an_owner_only_file_does_not_warn(tmp_path: Path) -> None:
    """Mode 0600 logs nothing."""
    path = _write(tmp_path / "token", "private-token", mode=0o600)
    with capture_logs() as logs:
        TokenSource.from_file(path)
    assert [] == logs


def test_every_token_read_is_registered_as_a_secret(tmp_path: Path) -> None:
    """Both the first and the rotated token are scrubbed from log text afterwards."""
    path = _write(tmp_path / "token", "registered-token-one")
    source = TokenSource.from_file(path)
    _write(path, "registered-token-two")
    source.get()
    assert "a *** b ***" == redact("a registered-token-one b registered-token-two")


def test_repr_and_str_never_show_the_token(tmp_path: Path) -> None:
    """repr/str show the kind of source and the path, never the value."""
    path = _write(tmp_path / "token", "hidden-token-value")
    file_source, static_source = TokenSource.from_file(path), TokenSource.static("hidden-token-value")
    shown = repr(file_source) + str(file_source) + repr(static_source) + str(static_source)
    assert "hidden-token-value" not in shown
    assert f"TokenSource(file={str(path)!r})" == repr(file_source)
