"""What a cycle keeps from the last one instead of working it out again over every deployment, and
that each such memory follows the changes it must see: the savings meter's intervals, the GPUs each
deployment holds, and who is governed by health rules or automatic lead times."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prometheus_client import CollectorRegistry

from scaler.daemon.gauges import DeploymentGauges
from scaler.daemon.realized_savings import RunningGpus, SavingsMeter
from scaler.metrics import Metrics
from scaler.policy import BUILTIN_PRICES, DesiredState
from scaler.simplismart.models import Deployment
from scaler.store import AppliedState
from tests.daemon import policies
from tests.daemon.harness import DEFAULT_SEED, EMBEDDINGS, LLAMA_8B, MONDAY, NAMES, RERANKER, Harness, at_utc
from tests.daemon.policies import document
from tests.daemon.test_learned_lead_time import PEAK

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
L4 = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")
H100 = UUID("5f0c1d7e-2b6a-4f43-9a51-8e7c3c1d2e90")


def deployment(deployment_id: UUID = L4, *, status: str = "DEPLOYED", accelerator: str = "nvidia-l4", gpus: int = 1) -> Deployment:
    return Deployment.model_validate(
        {
            "deployment_id": str(deployment_id),
            "deployment_name": f"model-{str(deployment_id)[:4]}",
            "status": status,
            "accelerator_type": [accelerator],
            "accelerator_count": gpus,
        }
    )


def meter() -> tuple[SavingsMeter, Metrics]:
    metrics = Metrics(CollectorRegistry())
    return SavingsMeter(DeploymentGauges(metrics)), metrics


def saved_seconds(metrics: Metrics, deployment_id: UUID = L4) -> float:
    series = metrics.deployments.get(str(deployment_id))
    return series.gpu_seconds_saved if series is not None else 0.0


def hold(savings: SavingsMeter, state: DesiredState | None, now: datetime, target: Deployment | None = None) -> None:
    savings.hold(target or deployment(), state, baseline=1, pricing=BUILTIN_PRICES, now=now)


def test_a_deployment_that_starts_saving_counts_from_the_last_settle_not_from_when_it_was_first_held() -> None:
    """Held running (nothing saved) from 08:00 while settles pass at 09:00 and 10:00, stopped by the scaler
    at 10:00: the settle of 11:00 counts one GPU-hour, not three."""
    savings, metrics = meter()
    hold(savings, None, T0)
    savings.settle(T0 + timedelta(hours=1))
    savings.settle(T0 + timedelta(hours=2))
    hold(savings, DesiredState.stopped(), T0 + timedelta(hours=2))
    savings.settle(T0 + timedelta(hours=3))
    assert 3600.0 == saved_seconds(metrics)


def test_the_latest_settle_counts_even_when_an_older_list_was_settled_after_it() -> None:
    """Settles at 10:00, then at 09:30 (a list answered late): a deployment held stopped from 10:30 on
    counts from 10:00, where it was counted up to; had the meter kept only the last settle it would
    count from 09:30."""
    savings, metrics = meter()
    hold(savings, None, T0)
    savings.settle(T0 + timedelta(hours=2))
    savings.settle(T0 + timedelta(hours=1, minutes=30))
    hold(savings, DesiredState.stopped(), T0 + timedelta(hours=2, minutes=30))
    savings.settle(T0 + timedelta(hours=3))
    assert 3600.0 == saved_seconds(metrics)


def test_a_deployment_that_stops_saving_counts_up_to_the_settle_and_no_further() -> None:
    """Stopped from 08:00 (counted to the 09:00 settle), running again at 09:00: the settles of 10:00 and
    11:00 add nothing; stopped again at 11:00, it counts from there to the settle of 12:00."""
    savings, metrics = meter()
    hold(savings, DesiredState.stopped(), T0)
    savings.settle(T0 + timedelta(hours=1))
    hold(savings, None, T0 + timedelta(hours=1))
    savings.settle(T0 + timedelta(hours=2))
    savings.settle(T0 + timedelta(hours=3))
    assert 3600.0 == saved_seconds(metrics)
    hold(savings, DesiredState.stopped(), T0 + timedelta(hours=3))
    savings.settle(T0 + timedelta(hours=4))
    assert 2 * 3600.0 == saved_seconds(metrics)


def test_a_saving_forgotten_and_seen_again_counts_from_its_new_hold() -> None:
    """A deployment dropped from the meter (gone from the list) and held again later counts from then."""
    savings, metrics = meter()
    hold(savings, DesiredState.stopped(), T0)
    savings.retain([])
    savings.settle(T0 + timedelta(hours=1))
    hold(savings, DesiredState.stopped(), T0 + timedelta(hours=2))
    savings.settle(T0 + timedelta(hours=3))
    assert 3600.0 == saved_seconds(metrics)


def applied(kind: str, low: int | None = None, high: int | None = None) -> AppliedState:
    return AppliedState(kind=kind, applied_at=T0, min_replicas=low, max_replicas=high, action_id=1)  # type: ignore[arg-type]


def running_gpus(metrics: Metrics, accelerator: str) -> float | None:
    return metrics.registry.get_sample_value("scaler_running_gpus", {"accelerator": accelerator})


def test_running_gpus_follow_each_change_of_applied_state_listing_and_baseline() -> None:
    """The GPUs held are worked out again when a deployment's stored applied state, its listed status or
    its baseline changes, and when it leaves the list (its accelerator then shows 0)."""
    metrics = Metrics(CollectorRegistry())
    gpus = RunningGpus(DeploymentGauges(metrics), metrics)
    small, large = deployment(), deployment(H100, accelerator="nvidia-h100", gpus=4)
    listed = {L4: small, H100: large}
    states = {L4: applied("bounds", 2, 3), H100: applied("bounds", 1, 2)}
    baselines = {L4: 1, H100: 1}
    gpus.publish(listed, states, baselines.__getitem__)
    assert (2.0, 4.0) == (running_gpus(metrics, "nvidia-l4"), running_gpus(metrics, "nvidia-h100"))
    states[L4] = applied("bounds", 1, 3)
    gpus.publish(listed, states, baselines.__getitem__)
    assert 1.0 == running_gpus(metrics, "nvidia-l4")
    listed[L4] = deployment(status="SCALED_DOWN")
    gpus.publish(listed, states, baselines.__getitem__)
    assert 0.0 == running_gpus(metrics, "nvidia-l4")
    del states[H100]
    baselines[H100] = 3
    gpus.publish(listed, states, baselines.__getitem__)
    assert 12.0 == running_gpus(metrics, "nvidia-h100")
    assert 12 == metrics.deployments.get(str(H100)).running_gpus  # type: ignore[union-attr]
    del listed[H100]
    gpus.publish(listed, states, baselines.__getitem__)
    assert 0.0 == running_gpus(metrics, "nvidia-h100")


async def test_the_health_watch_follows_a_renamed_deployment(make_harness: Callable[..., Harness]) -> None:
    """Governed by a health rule by name, embeddings-bge-large is watched; once the platform lists it under
    another name it is not, and a deployment listed under that name is."""
    harness = make_harness(document(policies.SHRINK), start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    assert {UUID(EMBEDDINGS)} == harness.daemon.intake.watched()
    renamed = {EMBEDDINGS: "embeddings-v2", RERANKER: "embeddings-bge-large"}
    harness.sim.load_seed(
        dataclasses.replace(
            DEFAULT_SEED,
            deployments=tuple(
                dataclasses.replace(item, deployment_name=renamed.get(str(item.deployment_id), item.deployment_name))
                for item in DEFAULT_SEED.deployments
            ),
        )
    )
    harness.advance(minutes=1)
    await harness.cycle()
    assert {UUID(RERANKER)} == harness.daemon.intake.watched()


async def test_the_health_watch_and_the_lead_time_learner_follow_a_policy_reload(
    make_harness: Callable[..., Harness],
) -> None:
    """A reload that moves the health rule to another deployment moves the watch; one that gives a
    deployment a learned lead time puts it under the learner's eye."""
    harness = make_harness(document(policies.SHRINK), start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    inventory = harness.daemon.inventory
    assert () == inventory.governed_by_auto_lead(harness.daemon.policies.current)  # type: ignore[arg-type]
    moved = policies.SHRINK.replace("embeddings-bge-large", NAMES[RERANKER])
    (harness.policy_path / "policies.yaml").write_text(document(moved))
    harness.advance(seconds=5)
    assert await harness.daemon.check_policies()
    assert {UUID(RERANKER)} == harness.daemon.intake.watched()
    (harness.policy_path / "policies.yaml").write_text(PEAK)
    harness.advance(seconds=5)
    assert await harness.daemon.check_policies()
    assert set() == harness.daemon.intake.watched()
    assert (UUID(LLAMA_8B),) == inventory.governed_by_auto_lead(harness.daemon.policies.current)  # type: ignore[arg-type]


def test_deployments_saving_alike_share_one_reckoning_but_not_with_others() -> None:
    """Two deployments stopped since the same settle: one nvidia-l4 GPU saves 3,600 GPU-seconds an hour,
    four nvidia-h100 GPUs 14,400, and a second l4 held from the half hour 1,800: each counts its own."""
    savings, metrics = meter()
    third = UUID("7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b")
    hold(savings, DesiredState.stopped(), T0)
    hold(savings, DesiredState.stopped(), T0, deployment(H100, accelerator="nvidia-h100", gpus=4))
    hold(savings, DesiredState.stopped(), T0 + timedelta(minutes=30), deployment(third))
    counted = savings.settle(T0 + timedelta(hours=1))
    assert (3600.0, 14400.0, 1800.0) == tuple(saved_seconds(metrics, key) for key in (L4, H100, third))
    day = T0.date()
    assert (3600.0, 14400.0, 1800.0) == tuple(counted[(key, day)].gpu_seconds for key in (L4, H100, third))


async def test_the_conflict_count_follows_a_conflict_appearing_and_ending(make_harness: Callable[..., Harness]) -> None:
    """office and twin tie over llama-3-8b-chat: ``scaler_policy_conflicts`` is 1; twin given a higher
    priority ends the tie: it is 0 again."""
    twin = "\n  - name: twin\n    match: {names: [llama-3-8b-chat]}\n    default: running\n"
    harness = make_harness(document(policies.OFFICE, twin), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    assert 1.0 == harness.sample("scaler_policy_conflicts")
    (harness.policy_path / "policies.yaml").write_text(
        document(policies.OFFICE, twin.replace("    default: running", "    priority: 5\n    default: running"))
    )
    await harness.daemon.check_policies(force=True)
    harness.advance(minutes=1)
    await harness.cycle()
    assert 0.0 == harness.sample("scaler_policy_conflicts")


async def test_a_deployment_gone_from_the_list_loses_its_series_and_view_until_it_is_listed_again(
    make_harness: Callable[..., Harness],
) -> None:
    """Lists showing the same deployments leave what the board shows alone; a list without
    embeddings-bge-large removes its series and view, and one with it again brings them back."""
    harness = make_harness(document(policies.OFFICE), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.advance(minutes=1)
    await harness.cycle()
    assert EMBEDDINGS in harness.metrics.deployments.tracked()
    harness.sim.load_seed(
        dataclasses.replace(
            DEFAULT_SEED,
            deployments=tuple(item for item in DEFAULT_SEED.deployments if str(item.deployment_id) != EMBEDDINGS),
        )
    )
    harness.advance(minutes=1)
    await harness.cycle()
    assert EMBEDDINGS not in harness.metrics.deployments.tracked()
    assert UUID(EMBEDDINGS) not in harness.daemon.board.views
    harness.sim.load_seed(DEFAULT_SEED)
    harness.advance(minutes=1)
    await harness.cycle()
    assert EMBEDDINGS in harness.metrics.deployments.tracked()
    assert UUID(EMBEDDINGS) in harness.daemon.board.views
