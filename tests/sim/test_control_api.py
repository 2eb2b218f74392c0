"""The control API under /_sim/: seeding, reading the hidden state, setting status, health, wallet and quotas."""

from __future__ import annotations

import httpx
import pytest

from scaler.sim.clock import ManualClock
from tests.sim.conftest import (
    BATCH_TRANSCRIBE,
    LIST_PATH,
    UNKNOWN_ID,
    WHISPER,
    health_path,
    listed_status,
    replicas_path,
    stop,
)

NEW_ID = "3bda38dc-e4be-43c2-a5eb-4d23ed4d3970"


async def test_add_one_deployment_in_seed_shape(client: httpx.AsyncClient) -> None:
    """POST /_sim/deployments with one object adds it (201) and answers its full state."""
    response = await client.post(
        "/_sim/deployments",
        json={"deployment_id": NEW_ID, "deployment_name": "new", "min_replicas": 2, "max_replicas": 3},
    )
    assert 201 == response.status_code
    added = response.json()["added"]
    assert [(NEW_ID, "DEPLOYED", 2, 3)] == [
        (d["deployment_id"], d["status"], d["min_replicas"], d["max_replicas"]) for d in added
    ]
    assert "DEPLOYED" == await listed_status(client, NEW_ID)


async def test_add_many_deployments(client: httpx.AsyncClient) -> None:
    """A list, or {"deployments": [...]}, adds them all."""
    await client.post("/_sim/deployments", json=[{"deployment_name": "a"}, {"deployment_name": "b"}])
    await client.post("/_sim/deployments", json={"deployments": [{"deployment_name": "c"}]})
    assert 16 == len((await client.get(LIST_PATH)).json())


async def test_added_deployment_is_healthy_at_once(client: httpx.AsyncClient) -> None:
    """A deployment added as DEPLOYED has been up since before: Healthy, not Progressing."""
    await client.post("/_sim/deployments", json={"deployment_id": NEW_ID, "deployment_name": "new"})
    assert "Healthy" == (await client.get(health_path(NEW_ID))).json()["data"]


async def test_adding_an_existing_id_answers_409_and_adds_nothing(client: httpx.AsyncClient) -> None:
    """An id that is taken answers 409; none of the batch is added."""
    response = await client.post(
        "/_sim/deployments",
        json=[
            {"deployment_id": NEW_ID, "deployment_name": "new"},
            {"deployment_id": WHISPER, "deployment_name": "dup"},
        ],
    )
    assert 409 == response.status_code
    assert None is await listed_status(client, NEW_ID)


async def test_invalid_deployment_answers_400_naming_the_field(client: httpx.AsyncClient) -> None:
    """A malformed deployment answers 400 with the field's path."""
    response = await client.post(
        "/_sim/deployments", json=[{"deployment_name": "ok"}, {"deployment_name": "x", "max_replicas": 0}]
    )
    assert 400 == response.status_code
    assert "deployments[1].max_replicas" in response.json()["error"]


async def test_describe_shows_the_hidden_state(client: httpx.AsyncClient) -> None:
    """GET /_sim/deployments/{id} shows bounds, running flag and start-up delay the platform hides."""
    view = (await client.get(f"/_sim/deployments/{WHISPER}")).json()
    hidden = {
        key: view[key] for key in ("min_replicas", "max_replicas", "running", "startup_seconds", "lifecycle", "status")
    }
    assert {
        "min_replicas": 1,
        "max_replicas": 2,
        "running": True,
        "startup_seconds": 30.0,
        "lifecycle": "active",
        "status": "DEPLOYED",
    } == hidden


async def test_describe_reflects_platform_calls(client: httpx.AsyncClient) -> None:
    """Bounds applied through update-replicas are what the control view shows."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 5})
    view = (await client.get(f"/_sim/deployments/{WHISPER}")).json()
    assert (0, 5, "SCALED_DOWN") == (view["min_replicas"], view["max_replicas"], view["status"])


async def test_describe_unknown_deployment_answers_404(client: httpx.AsyncClient) -> None:
    """An unknown id answers 404 on the control API too."""
    assert 404 == (await client.get(f"/_sim/deployments/{UNKNOWN_ID}")).status_code


async def test_list_of_full_states(client: httpx.AsyncClient) -> None:
    """GET /_sim/deployments lists every deployment's full state."""
    states = (await client.get("/_sim/deployments")).json()
    assert (13, True) == (len(states), all("min_replicas" in s for s in states))


async def test_set_status_deployed_starts_like_a_person_would(client: httpx.AsyncClient) -> None:
    """Setting DEPLOYED on a paused deployment starts it (Progressing), as a manual start would."""
    await client.put(f"/_sim/deployments/{BATCH_TRANSCRIBE}/status", json={"status": "DEPLOYED"})
    assert "DEPLOYED" == await listed_status(client, BATCH_TRANSCRIBE)
    assert "Progressing" == (await client.get(health_path(BATCH_TRANSCRIBE))).json()["data"]


async def test_set_status_scaled_down_pauses(client: httpx.AsyncClient) -> None:
    """Setting SCALED_DOWN pauses a running deployment."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "SCALED_DOWN"})
    view = (await client.get(f"/_sim/deployments/{WHISPER}")).json()
    assert ("SCALED_DOWN", False) == (view["status"], view["running"])


async def test_set_status_deployed_raises_a_zero_min(client: httpx.AsyncClient) -> None:
    """DEPLOYED on a deployment scaled to zero raises its min to 1 (DEPLOYED needs a replica)."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 2})
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "DEPLOYED"})
    view = (await client.get(f"/_sim/deployments/{WHISPER}")).json()
    assert ("DEPLOYED", 1) == (view["status"], view["min_replicas"])


@pytest.mark.parametrize("status", ["DEPLOYING", "FAILED", "DELETING", "DELETED"])
async def test_set_status_puts_the_deployment_in_that_status(client: httpx.AsyncClient, status: str) -> None:
    """Each documented status can be set directly."""
    response = await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": status})
    assert (200, status) == (response.status_code, await listed_status(client, WHISPER))


async def test_set_status_deleting_proceeds_to_deleted(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """DELETING set from outside finishes like a deletion through the API."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "DELETING"})
    clock.advance(10)
    assert "DELETED" == await listed_status(client, WHISPER)


async def test_set_status_label_is_cleared_by_a_documented_status(client: httpx.AsyncClient) -> None:
    """An undocumented label is replaced when a documented status is set."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "STOPPED"})
    assert "STOPPED" == await listed_status(client, WHISPER)
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "SCALED_DOWN"})
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)


async def test_set_status_refuses_a_missing_value(client: httpx.AsyncClient) -> None:
    """The status must be a non-empty string."""
    assert 400 == (await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": ""})).status_code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": ""}, "data"),
        ({"pods": {"ready": 1, "not_ready": 0}}, "data"),
        ({"data": "Healthy", "pods": {"ready": -1, "not_ready": 0}}, "pods.ready"),
        ({"data": "Healthy", "pods": {"ready": 1}}, "pods"),
        ({"data": "Healthy", "messages": "all good"}, "messages"),
        ({"data": "Healthy", "messages": [{"severity": "info"}]}, "messages[0].message"),
    ],
)
async def test_set_health_refuses_malformed_bodies(client: httpx.AsyncClient, body: dict, field: str) -> None:
    """A malformed health answers 400 naming the field."""
    response = await client.put(f"/_sim/deployments/{WHISPER}/health", json=body)
    assert 400 == response.status_code
    assert f"{field}:" in response.json()["error"]


async def test_patch_running_false_pauses_without_the_wallet(client: httpx.AsyncClient) -> None:
    """PATCH running=false pauses even while the wallet is blocked (control is not the platform)."""
    await client.put("/_sim/wallet", json={"blocked": True})
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"running": False})
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)


async def test_patch_bounds_ignore_the_quota(client: httpx.AsyncClient) -> None:
    """PATCH sets bounds beyond the quota (to stage an over-quota organization)."""
    response = await client.patch(f"/_sim/deployments/{WHISPER}", json={"max_replicas": 500})
    assert (200, 500) == (response.status_code, response.json()["max_replicas"])


@pytest.mark.parametrize(
    "body",
    [
        {"min_replicas": 3},
        {"max_replicas": 0},
        {"running": "yes"},
        {"startup_seconds": -1},
        {"colour": "blue"},
        {"deletion_failures": 1.5},
    ],
)
async def test_patch_refuses_invalid_fields(client: httpx.AsyncClient, body: dict) -> None:
    """PATCH validates what it sets: 400 naming the field."""
    response = await client.patch(f"/_sim/deployments/{WHISPER}", json=body)
    assert 400 == response.status_code
    assert response.json()["error"].split(":")[0] in body


async def test_wallet_state_is_readable(client: httpx.AsyncClient) -> None:
    """GET /_sim/wallet shows whether it is blocked."""
    await client.put("/_sim/wallet", json={"blocked": True})
    assert {"blocked": True} == (await client.get("/_sim/wallet")).json()


async def test_wallet_refuses_a_non_boolean(client: httpx.AsyncClient) -> None:
    """blocked must be true or false."""
    assert 400 == (await client.put("/_sim/wallet", json={"blocked": "yes"})).status_code


async def test_put_quotas_replaces_them_all(client: httpx.AsyncClient) -> None:
    """PUT /_sim/quotas replaces every quota: types not named have none afterwards."""
    view = (await client.put("/_sim/quotas", json={"nvidia-h100": 12})).json()
    assert (12, None) == (view["nvidia-h100"]["quota"], view["nvidia-l4"]["quota"])


async def test_quotas_refuse_negative_values(client: httpx.AsyncClient) -> None:
    """A quota must be a whole number of GPUs >= 0."""
    response = await client.put("/_sim/quotas", json={"nvidia-h100": -1})
    assert 400 == response.status_code
    assert "nvidia-h100" in response.json()["error"]


async def test_replace_seed_replaces_the_organization(client: httpx.AsyncClient) -> None:
    """POST /_sim/seed installs a new organization (and token/org when given)."""
    seed = {"org_id": "11111111-2222-4333-8444-555555555555", "deployments": [{"deployment_name": "only-one"}]}
    response = await client.post("/_sim/seed", json=seed)
    assert (200, 1) == (response.status_code, response.json()["deployments"])
    assert ["only-one"] == [item["deployment_name"] for item in (await client.get(LIST_PATH)).json()]


async def test_replace_seed_refuses_a_malformed_seed_and_keeps_the_state(client: httpx.AsyncClient) -> None:
    """A malformed seed answers 400 naming the field; the organization is unchanged."""
    response = await client.post("/_sim/seed", json={"deployments": [{"deployment_name": "x", "status": "RUNNING"}]})
    assert 400 == response.status_code
    assert "deployments[0].status" in response.json()["error"]
    assert 13 == len((await client.get(LIST_PATH)).json())


async def test_reset_returns_to_the_seed(client: httpx.AsyncClient) -> None:
    """POST /_sim/reset undoes platform calls and control changes, faults and the log included."""
    await stop(client, WHISPER)
    await client.put("/_sim/wallet", json={"blocked": True})
    await client.post("/_sim/faults/fail-next", json={"status": 500})
    response = await client.post("/_sim/reset")
    assert 200 == response.status_code
    summary = (await client.get("/_sim/")).json()
    assert (False, [], 0) == (summary["wallet_blocked"], summary["faults"]["fail_next"], summary["requests_logged"])
    assert "DEPLOYED" == await listed_status(client, WHISPER)


async def test_reset_after_a_replaced_seed_returns_to_that_seed(client: httpx.AsyncClient) -> None:
    """The last seed installed is the one reset returns to."""
    await client.post("/_sim/seed", json={"deployments": [{"deployment_name": "only-one"}]})
    await client.post("/_sim/deployments", json={"deployment_name": "two"})
    await client.post("/_sim/reset")
    assert 1 == len((await client.get(LIST_PATH)).json())


async def test_summary_counts_statuses(client: httpx.AsyncClient) -> None:
    """GET /_sim/ summarises the organization."""
    summary = (await client.get("/_sim/")).json()
    assert {"DEPLOYED": 10, "SCALED_DOWN": 1, "FAILED": 1, "DEPLOYING": 1} == summary["statuses"]


async def test_control_body_that_is_not_json_answers_400(client: httpx.AsyncClient) -> None:
    """A control body that does not parse answers 400."""
    response = await client.put("/_sim/wallet", content=b"{oops")
    assert 400 == response.status_code
    assert response.json()["error"].startswith("body: not valid JSON")
