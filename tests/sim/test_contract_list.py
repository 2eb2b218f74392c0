"""Conformance of GET /deployments/list/model/ to the contract."""

from __future__ import annotations

import httpx
import pytest

from scaler.sim.state import SimState
from tests.sim.conftest import LIST_PATH, WHISPER, WHISPER_REPO

# The contract's example items, verbatim.
CONTRACT_WHISPER = {
    "deployment_id": "1e99a854-26de-4c19-b6b6-68c7e03c39c3",
    "deployment_name": "whisper-v3",
    "model_repo_id": "0caac439-5518-4569-a3db-a2d505a189f2",
    "model_repo_name": "whisper-v3-arabic-h100",
    "model_type": "custom",
    "accelerator_type": ["nvidia-tesla-t4"],
    "accelerator_count": 1,
    "status": "DEPLOYED",
}
CONTRACT_LLAMA = {
    "deployment_id": "3bda38dc-e4be-43c2-a5eb-4d23ed4d3970",
    "deployment_name": "llama-inference",
    "model_repo_id": "0caac439-5518-4569-a3db-a2d505a189f2",
    "model_repo_name": "llama-7b-optimized",
    "model_type": "custom",
    "accelerator_type": ["nvidia-l4"],
    "accelerator_count": 1,
    "status": "DEPLOYED",
}


async def test_list_answers_200_with_a_json_array(client: httpx.AsyncClient) -> None:
    """The list answers 200 and a JSON array of the 13 deployments of the default seed."""
    response = await client.get(LIST_PATH)
    assert 200 == response.status_code
    assert "application/json" == response.headers["content-type"]
    assert 13 == len(response.json())


async def test_list_item_has_exactly_the_contract_fields(client: httpx.AsyncClient) -> None:
    """whisper-v3 is listed exactly as the contract's example shows it."""
    items = (await client.get(LIST_PATH)).json()
    assert CONTRACT_WHISPER == next(item for item in items if item["deployment_id"] == WHISPER)


async def test_contract_example_added_through_control_is_listed_verbatim(client: httpx.AsyncClient) -> None:
    """A deployment added in the list shape is listed with exactly the fields it was given."""
    added = await client.post("/_sim/deployments", json=CONTRACT_LLAMA)
    assert 201 == added.status_code
    items = (await client.get(LIST_PATH)).json()
    assert CONTRACT_LLAMA == next(item for item in items if item["deployment_name"] == "llama-inference")


async def test_filter_by_model_repo_id_keeps_that_container_only(client: httpx.AsyncClient) -> None:
    """?model_repo_id= keeps the deployments of that container (whisper-v3 and batch-transcribe)."""
    response = await client.get(LIST_PATH, params={"model_repo_id": WHISPER_REPO})
    assert 200 == response.status_code
    assert ["whisper-v3", "batch-transcribe"] == [item["deployment_name"] for item in response.json()]


async def test_filter_is_case_insensitive_on_the_uuid(client: httpx.AsyncClient) -> None:
    """An upper-case UUID filters the same as the lower-case one."""
    response = await client.get(LIST_PATH, params={"model_repo_id": WHISPER_REPO.upper()})
    assert 2 == len(response.json())


async def test_filter_with_unknown_container_answers_an_empty_list(client: httpx.AsyncClient) -> None:
    """A well-formed UUID no deployment uses answers 200 and []."""
    response = await client.get(LIST_PATH, params={"model_repo_id": "11111111-2222-4333-8444-555555555555"})
    assert (200, []) == (response.status_code, response.json())


@pytest.mark.parametrize("bad", ["not-a-uuid", "0caac439", "0caac439-5518-4569-a3db-a2d505a189f2x"])
async def test_filter_with_invalid_uuid_answers_400(client: httpx.AsyncClient, bad: str) -> None:
    """An invalid UUID in the filter answers 400 with an `error` message."""
    response = await client.get(LIST_PATH, params={"model_repo_id": bad})
    assert 400 == response.status_code
    assert "model_repo_id must be a valid UUID" == response.json()["error"]


async def test_empty_filter_lists_everything(client: httpx.AsyncClient) -> None:
    """?model_repo_id= with no value is no filter."""
    response = await client.get(LIST_PATH, params={"model_repo_id": ""})
    assert 13 == len(response.json())


async def test_all_six_statuses_are_listed_when_present(client: httpx.AsyncClient, state: SimState) -> None:
    """DEPLOYED, DEPLOYING, FAILED, DELETED, DELETING and SCALED_DOWN all appear in the list."""
    ids = list(state.deployments)
    await client.put(f"/_sim/deployments/{ids[0]}/status", json={"status": "DELETING"})
    await client.put(f"/_sim/deployments/{ids[1]}/status", json={"status": "DELETED"})
    statuses = {item["status"] for item in (await client.get(LIST_PATH)).json()}
    assert {"DEPLOYED", "DEPLOYING", "FAILED", "DELETED", "DELETING", "SCALED_DOWN"} == statuses


async def test_seed_statuses_are_listed_as_seeded(client: httpx.AsyncClient) -> None:
    """The default seed lists 10 DEPLOYED, 1 SCALED_DOWN, 1 FAILED and 1 DEPLOYING."""
    items = (await client.get(LIST_PATH)).json()
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    assert {"DEPLOYED": 10, "SCALED_DOWN": 1, "FAILED": 1, "DEPLOYING": 1} == counts


async def test_extra_fields_of_a_seed_are_listed(client: httpx.AsyncClient) -> None:
    """Fields under `extra` appear in the list item, as fields the platform adds over time would."""
    await client.post(
        "/_sim/deployments",
        json={"deployment_name": "with-extras", "extra": {"region": "eu-west", "fast_scaleup": True}},
    )
    item = next(i for i in (await client.get(LIST_PATH)).json() if i["deployment_name"] == "with-extras")
    assert ("eu-west", True) == (item["region"], item["fast_scaleup"])


async def test_status_label_is_listed_verbatim(client: httpx.AsyncClient) -> None:
    """A status outside the contract's six, set through control, is listed as given (e.g. PENDING)."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "PENDING"})
    item = next(i for i in (await client.get(LIST_PATH)).json() if i["deployment_id"] == WHISPER)
    assert "PENDING" == item["status"]
