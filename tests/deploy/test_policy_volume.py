"""Policies mounted from a ConfigMap: the daemon reads each key once, and follows the kubelet's updates.

The chart mounts the policies ConfigMap at SCALER_POLICY_PATH. The kubelet fills such a
volume with a timestamped directory, a ``..data`` symlink to it and one symlink per key
(see tests.deploy.configmap_volume). The loader reads a directory's own .yaml/.yml
files, not its subdirectories: each key is read once, through its symlink, and neither
``..data`` nor the timestamped directory is read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from scaler.daemon.policy_reload import PolicyKeeper
from scaler.metrics import Metrics
from scaler.policy import load_policy_set
from scaler.policy.loader import policy_files
from tests.deploy.configmap_volume import update_configmap_volume, write_configmap_volume

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIRST = "2026_11_28_10_00_00.000000001"
SECOND = "2026_11_28_11_00_00.000000002"
THIRD = "2026_11_28_12_00_00.000000003"


def policy(name: str, state: str = "stopped") -> str:
    """One policy file holding one policy called ``name`` with ``state`` as its default."""
    return f"version: 1\npolicies:\n  - name: {name}\n    match: {{names: [{name}-*]}}\n    default: {state}\n"


def keeper(directory: Path) -> PolicyKeeper:
    """The daemon's policy keeper on ``directory``, with the set loaded."""
    policies = PolicyKeeper([directory], metrics=Metrics(CollectorRegistry()))
    policies.load(NOW)
    return policies


def test_a_volume_is_read_through_its_key_symlinks_only(tmp_path: Path) -> None:
    """Each key's symlink is a policy file; ..data and the timestamped directory are not read."""
    write_configmap_volume(tmp_path, {"b-night.yaml": policy("night"), "a-day.yml": policy("day")}, version=FIRST)
    assert [tmp_path / "a-day.yml", tmp_path / "b-night.yaml"] == policy_files([tmp_path])


def test_a_volume_loads_each_policy_once(tmp_path: Path) -> None:
    """Loading the volume gives each policy once (a recursive read would see every file three times)."""
    write_configmap_volume(tmp_path, {"day.yaml": policy("day"), "night.yaml": policy("night")}, version=FIRST)
    policy_set = load_policy_set([tmp_path])
    assert (["day", "night"], [tmp_path / "day.yaml", tmp_path / "night.yaml"]) == (
        [p.name for p in policy_set.policies], [source.path for source in policy_set.sources]
    )


def test_an_update_of_the_configmap_is_reloaded(tmp_path: Path) -> None:
    """When the kubelet swaps ..data to a new version, the next check loads the new content."""
    write_configmap_volume(tmp_path, {"day.yaml": policy("day")}, version=FIRST)
    policies = keeper(tmp_path)
    update_configmap_volume(tmp_path, {"day.yaml": policy("day", "running")}, version=SECOND)
    assert (True, "running") == (policies.check(NOW), policies.current.policies[0].default.kind)


def test_a_new_version_with_the_same_content_changes_nothing(tmp_path: Path) -> None:
    """A resync that writes the same files into a new timestamped directory is not a reload."""
    write_configmap_volume(tmp_path, {"day.yaml": policy("day")}, version=FIRST)
    policies = keeper(tmp_path)
    in_force = policies.current
    update_configmap_volume(tmp_path, {"day.yaml": policy("day")}, version=SECOND)
    assert (False, in_force) == (policies.check(NOW), policies.current)


def test_keys_added_and_removed_in_an_update_are_followed(tmp_path: Path) -> None:
    """A key removed from the ConfigMap is dropped and a key added is read, in one reload."""
    write_configmap_volume(tmp_path, {"day.yaml": policy("day"), "night.yaml": policy("night")}, version=FIRST)
    policies = keeper(tmp_path)
    update_configmap_volume(tmp_path, {"night.yaml": policy("night"), "weekend.yaml": policy("weekend")},
                            version=SECOND)
    assert (True, ["night", "weekend"]) == (policies.check(NOW), [p.name for p in policies.current.policies])


def test_the_volume_helper_leaves_what_the_kubelet_leaves(tmp_path: Path) -> None:
    """After two updates the volume holds one version directory, ..data and one symlink per key."""
    write_configmap_volume(tmp_path, {"day.yaml": policy("day")}, version=FIRST)
    update_configmap_volume(tmp_path, {"day.yaml": policy("day", "running")}, version=SECOND)
    update_configmap_volume(tmp_path, {"night.yaml": policy("night")}, version=THIRD)
    entries = {path.name: (path.is_symlink(), path.is_dir()) for path in tmp_path.iterdir()}
    assert {f"..{THIRD}": (False, True), "..data": (True, True), "night.yaml": (True, False)} == entries
