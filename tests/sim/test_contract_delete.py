"""Conformance of DELETE /deployments/{id}/delete/ to the contract: asynchronous, idempotent, three failures."""

from __future__ import annotations

import httpx

from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import parse_seed
from scaler.sim.state import SimState
from tests.sim.conftest import AUTH, LIST_PATH, UNKNOWN_ID, WHISPER, delete_path, health_path, listed_status

CONTRACT_DELETED = {"message": "Deployment deleted successfully"}
CONTRACT_ALREADY = {"message": "Deployment already Deleted"}
CONTRACT_NOT_FOUND = {"error": "Deployment not found"}
CONTRACT_TOO_MANY = {"error": "Deletion failed multiple times already. Please contact support."}


async def test_delete_answers_the_documented_body(client: httpx.AsyncClient) -> None:
    """Delete answers 200 {"message": "Deployment deleted successfully"}."""
    response = await client.delete(delete_path(WHISPER))
    assert (200, CONTRACT_DELETED) == (response.status_code, response.json())


async def test_delete_is_deleting_then_deleted_after_the_delay(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """The deployment is DELETING at once and DELETED once its deletion delay (10 s) has passed."""
    await client.delete(delete_path(WHISPER))
    assert "DELETING" == await listed_status(client, WHISPER)
    clock.advance(9.9)
    assert "DELETING" == await listed_status(client, WHISPER)
    clock.advance(0.1)
    assert "DELETED" == await listed_status(client, WHISPER)


async def test_deleted_deployment_leaves_the_list_after_ten_minutes(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A DELETED deployment is listed for 600 s, then no more."""
    await client.delete(delete_path(WHISPER))
    clock.advance(10 + 599)
    assert "DELETED" == await listed_status(client, WHISPER)
    clock.advance(1)
    assert None is await listed_status(client, WHISPER)
    assert 12 == len((await client.get(LIST_PATH)).json())


async def test_deletion_finishes_without_any_request_in_between(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """Transitions are evaluated against the clock when asked: a long jump still lands on DELETED (then gone)."""
    await client.delete(delete_path(WHISPER))
    clock.advance(15)
    response = await client.get(health_path(WHISPER))
    assert (400, {"error": "Deployment is deleted"}) == (response.status_code, response.json())


async def test_delete_again_while_deleting_answers_success(client: httpx.AsyncClient) -> None:
    """A repeated delete during DELETING is safe: 200 with the deleted text."""
    await client.delete(delete_path(WHISPER))
    response = await client.delete(delete_path(WHISPER))
    assert (200, CONTRACT_DELETED) == (response.status_code, response.json())


async def test_delete_of_a_deleted_deployment_answers_already_deleted(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """Delete is idempotent: once DELETED it answers 200 {"message": "Deployment already Deleted"}."""
    await client.delete(delete_path(WHISPER))
    clock.advance(10)
    response = await client.delete(delete_path(WHISPER))
    assert (200, CONTRACT_ALREADY) == (response.status_code, response.json())


async def test_already_deleted_even_after_it_left_the_list(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """A deployment no longer listed is still known as deleted."""
    await client.delete(delete_path(WHISPER))
    clock.advance(3600)
    assert CONTRACT_ALREADY == (await client.delete(delete_path(WHISPER))).json()


async def test_delete_of_an_unknown_deployment_answers_404(client: httpx.AsyncClient) -> None:
    """Delete of an unknown (or malformed) id answers 404 {"error": "Deployment not found"}."""
    for deployment_id in (UNKNOWN_ID, "nope"):
        response = await client.delete(delete_path(deployment_id))
        assert (404, CONTRACT_NOT_FOUND) == (response.status_code, response.json())


async def test_injected_deletion_failures_answer_500_then_400_after_three(client: httpx.AsyncClient) -> None:
    """With failures injected, attempts 1-3 answer 500 and count; the 4th answers the documented 400."""
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"deletion_failures": 5})
    statuses = [(await client.delete(delete_path(WHISPER))).status_code for _ in range(3)]
    assert [500, 500, 500] == statuses
    fourth = await client.delete(delete_path(WHISPER))
    assert (400, CONTRACT_TOO_MANY) == (fourth.status_code, fourth.json())
    assert "DEPLOYED" == await listed_status(client, WHISPER)


async def test_fewer_failures_than_three_then_deletion_succeeds(client: httpx.AsyncClient) -> None:
    """Two injected failures, then the third attempt deletes."""
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"deletion_failures": 2})
    statuses = [(await client.delete(delete_path(WHISPER))).status_code for _ in range(3)]
    assert [500, 500, 200] == statuses
    assert "DELETING" == await listed_status(client, WHISPER)


async def test_failed_deletion_body_carries_an_error(client: httpx.AsyncClient) -> None:
    """An injected deletion failure answers {"error": "Failed to delete deployment"}."""
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"deletion_failures": 1})
    assert {"error": "Failed to delete deployment"} == (await client.delete(delete_path(WHISPER))).json()


async def test_failed_attempts_are_visible_and_resettable_through_control(client: httpx.AsyncClient) -> None:
    """The control API shows the failed attempts and can reset them, after which delete works again."""
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"deletion_failures": 3})
    for _ in range(3):
        await client.delete(delete_path(WHISPER))
    assert 3 == (await client.get(f"/_sim/deployments/{WHISPER}")).json()["failed_deletion_attempts"]
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"failed_deletion_attempts": 0})
    assert 200 == (await client.delete(delete_path(WHISPER))).status_code


async def test_longer_deletion_delay_set_while_deleting_is_honoured(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A deletion delay raised during DELETING moves the end of the deletion."""
    await client.delete(delete_path(WHISPER))
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"delete_seconds": 60})
    clock.advance(30)
    assert "DELETING" == await listed_status(client, WHISPER)
    clock.advance(30)
    assert "DELETED" == await listed_status(client, WHISPER)


async def test_shorter_deletion_delay_set_while_deleting_is_honoured(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A deletion delay lowered during DELETING ends the deletion sooner."""
    await client.delete(delete_path(WHISPER))
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"delete_seconds": 2})
    clock.advance(2)
    assert "DELETED" == await listed_status(client, WHISPER)


async def test_seeded_deleting_deployment_finishes_deleting(clock: ManualClock) -> None:
    """A deployment seeded as DELETING becomes DELETED after its delay, with no call in between."""
    seed = parse_seed({"deployments": [{"deployment_name": "going", "status": "DELETING", "delete_seconds": 5}]})
    state = SimState.from_seed(seed, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url="http://sim", headers=AUTH
    ) as http:
        assert ["DELETING"] == [item["status"] for item in (await http.get(LIST_PATH)).json()]
        clock.advance(5)
        assert ["DELETED"] == [item["status"] for item in (await http.get(LIST_PATH)).json()]
