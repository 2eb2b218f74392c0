"""Seed documents: the default seed, loading YAML and JSON, errors naming file and field, generated seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, SeedError, generate_seed, load_seed, parse_seed
from scaler.sim.state import SimState

# SEED.md: name -> (model_repo_name, accelerator, count, status)
SEED_TABLE = {
    "llama-3-8b-chat": ("llama-3-8b-instruct", "nvidia-l4", 1, "DEPLOYED"),
    "llama-3-8b-chat-canary": ("llama-3-8b-instruct", "nvidia-l4", 1, "DEPLOYED"),
    "llama-3-70b-instruct": ("llama-3-70b-instruct", "nvidia-h100", 4, "DEPLOYED"),
    "whisper-v3": ("whisper-v3-arabic-h100", "nvidia-tesla-t4", 1, "DEPLOYED"),
    "mistral-7b-support": ("mistral-7b-instruct", "nvidia-a10g", 1, "DEPLOYED"),
    "sdxl-image-gen": ("sdxl-1.0", "nvidia-a100", 2, "DEPLOYED"),
    "embeddings-bge-large": ("bge-large-en", "nvidia-l4", 1, "DEPLOYED"),
    "reranker-ms-marco": ("ms-marco-minilm", "nvidia-tesla-t4", 1, "DEPLOYED"),
    "code-assist-deepseek": ("deepseek-coder-33b", "nvidia-h100", 2, "DEPLOYED"),
    "tmp-eval-qwen-32b": ("qwen-2.5-32b", "nvidia-a100", 2, "DEPLOYED"),
    "batch-transcribe": ("whisper-v3-arabic-h100", "nvidia-tesla-t4", 2, "SCALED_DOWN"),
    "legacy-gpt-j": ("gpt-j-6b", "nvidia-a10g", 1, "FAILED"),
    "vision-ocr-staging": ("donut-base", "nvidia-l4", 1, "DEPLOYING"),
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_seed_is_the_table_of_seed_md() -> None:
    """The default seed holds exactly SEED.md's deployments with their repos, accelerators, counts and statuses."""
    seed = load_seed(DEFAULT_SEED_PATH)
    actual = {
        d.deployment_name: (d.model_repo_name, d.accelerator_type[0], d.accelerator_count, d.status)
        for d in seed.deployments
    }
    assert SEED_TABLE == actual


def test_default_seed_identity_and_fixed_ids() -> None:
    """The default seed names the contract's organization and token, and whisper-v3 has the contract's ids."""
    seed = load_seed(DEFAULT_SEED_PATH)
    whisper = next(d for d in seed.deployments if d.deployment_name == "whisper-v3")
    assert (DEFAULT_ORG_ID, DEFAULT_TOKEN) == (seed.org_id, seed.token)
    assert ("1e99a854-26de-4c19-b6b6-68c7e03c39c3", "0caac439-5518-4569-a3db-a2d505a189f2") == (
        whisper.deployment_id,
        whisper.model_repo_id,
    )


def test_default_seed_has_realistic_bounds_and_start_up_delays() -> None:
    """Every deployment has 1 <= min <= max and the ones that start take 20-90 s."""
    seed = load_seed(DEFAULT_SEED_PATH)
    assert all(1 <= d.min_replicas <= d.max_replicas for d in seed.deployments)
    assert all(20 <= d.startup_seconds <= 90 for d in seed.deployments if d.startup_seconds is not None)


def test_default_seed_fits_its_quotas() -> None:
    """No accelerator type is over its quota in the default seed."""
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock())
    assert all(view["reserved"] <= view["quota"] for view in state.quota_view().values() if view["quota"] is not None)


def test_json_seed_loads(tmp_path: Path) -> None:
    """A .json seed is read as JSON."""
    path = write(
        tmp_path, "seed.json", json.dumps({"quotas": {"nvidia-l4": 4}, "deployments": [{"deployment_name": "a"}]})
    )
    seed = load_seed(path)
    assert (1, {"nvidia-l4": 4}, str(path)) == (len(seed.deployments), seed.quotas, seed.source)


def test_missing_ids_are_derived_from_names_stably(tmp_path: Path) -> None:
    """Without ids, the same names give the same deployment and repo ids on every load."""
    path = write(tmp_path, "seed.yaml", "deployments:\n  - deployment_name: a\n    model_repo_name: r\n")
    first, second = load_seed(path).deployments[0], load_seed(path).deployments[0]
    assert (first.deployment_id, first.model_repo_id) == (second.deployment_id, second.model_repo_id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just a list", "the seed must be a mapping"),
        ("org_id: 54360212-2263-44c6-afaf-1333544854f7\n", "deployments: is required"),
        ("deployments: {}\n", "deployments: must be a list"),
        ("deployment: []\n", "deployment: unknown field"),
        ("deployments:\n  - model_type: custom\n", "deployments[0].deployment_name: is required"),
        (
            "deployments:\n  - deployment_name: a\n    deployment_id: 1234\n",
            "deployments[0].deployment_id: must be a UUID",
        ),
        ("deployments:\n  - deployment_name: a\n    status: RUNNING\n", "deployments[0].status: must be one of"),
        (
            "deployments:\n  - deployment_name: a\n    min_replicas: 3\n    max_replicas: 2\n",
            "deployments[0].min_replicas: 3 is above",
        ),
        (
            "deployments:\n  - deployment_name: a\n    max_replicas: 0\n",
            "deployments[0].max_replicas: must be a whole number >= 1",
        ),
        ("deployments:\n  - deployment_name: a\n    accelerator_count: two\n", "deployments[0].accelerator_count"),
        ("deployments:\n  - deployment_name: a\n    accelerator_type: []\n", "deployments[0].accelerator_type"),
        ("deployments:\n  - deployment_name: a\n    running: false\n", "deployments[0].status: DEPLOYED needs running"),
        (
            "deployments:\n  - deployment_name: a\n    status: SCALED_DOWN\n    running: true\n",
            "deployments[0].status: SCALED_DOWN needs",
        ),
        (
            "deployments:\n  - deployment_name: a\n    pods: {ready: 1, not_ready: 0}\n",
            "deployments[0].health: is required",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health: Healthy\n    pods: {ready: x, not_ready: 0}\n",
            "deployments[0].pods.ready",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health_timeline: [{data: Degraded}]\n",
            "deployments[0].health_timeline[0].after_seconds: is required",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health_timeline: Degraded\n",
            "deployments[0].health_timeline: must be a list of {after_seconds, data, pods?, messages?}",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health_timeline: [Degraded]\n",
            "deployments[0].health_timeline[0]: must be a mapping",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health_timeline: [{after_seconds: 1, data: x, at: 2}]\n",
            "deployments[0].health_timeline[0].at: unknown field",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health: Degraded\n    messages: oops\n",
            "deployments[0].messages: must be a list of {message, severity}",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health: Degraded\n    messages: [oops]\n",
            "deployments[0].messages[0]: must be a mapping {message, severity}",
        ),
        (
            "deployments:\n  - deployment_name: a\n    health: Degraded\n    messages: [{message: m, level: x}]\n",
            "deployments[0].messages[0].level: unknown field",
        ),
        ("deployments:\n  - deployment_name: a\n    startup_seconds: -5\n", "deployments[0].startup_seconds"),
        ("deployments:\n  - deployment_name: a\n    min_replica: 1\n", "deployments[0].min_replica: unknown field"),
        ("deployments:\n  - deployment_name: a\n    extra: {status: X}\n", "deployments[0].extra.status"),
        ("quotas: {nvidia-l4: many}\ndeployments: []\n", "quotas.nvidia-l4"),
        ("token: ''\ndeployments: []\n", "token: must be a non-empty string"),
        ("wallet_blocked: maybe\ndeployments: []\n", "wallet_blocked: must be true or false"),
    ],
)
def test_malformed_seed_names_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    """Each malformed seed raises SeedError whose message starts with the file and names the field."""
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(SeedError) as error:
        load_seed(path)
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    """Two deployments with one id: the second is named."""
    same = "3bda38dc-e4be-43c2-a5eb-4d23ed4d3970"
    text = (
        f"deployments:\n  - {{deployment_name: a, deployment_id: {same}}}\n"
        f"  - {{deployment_name: b, deployment_id: {same}}}\n"
    )
    with pytest.raises(SeedError, match=r"deployments\[1\]\.deployment_id: .* already used by deployments\[0\]"):
        load_seed(write(tmp_path, "dup.yaml", text))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    path = write(tmp_path, "broken.yaml", "deployments:\n  - deployment_name: a\n   bad: [\n")
    with pytest.raises(SeedError, match=rf"^{path}: line \d+: not valid YAML"):
        load_seed(path)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    """A JSON syntax error names the file and the line."""
    path = write(tmp_path, "broken.json", '{\n  "deployments": [\n')
    with pytest.raises(SeedError, match=rf"^{path}: line \d+: not valid JSON"):
        load_seed(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A seed file that does not exist is a SeedError naming it."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(SeedError, match=rf"^{path}: cannot read the seed file"):
        load_seed(path)


def test_seed_health_is_the_initial_health() -> None:
    """health/pods/messages in a seed are answered from the start."""
    seed = parse_seed({"deployments": [{"deployment_name": "a", "health": "Unhealthy", "pods": None}]})
    state = SimState.from_seed(seed, clock=ManualClock())
    deployment = next(iter(state.deployments.values()))
    assert {
        "data": "Unhealthy",
        "messages": [{"message": "The deployment is not serving requests.", "severity": "error"}],
    } == deployment.health_answer(state.now())


def test_explicit_token_and_org_win_over_the_seed() -> None:
    """from_seed(token=, org_id=) override the seed's own identity."""
    seed = parse_seed({"token": "seed-token", "org_id": "11111111-2222-4333-8444-555555555555", "deployments": []})
    state = SimState.from_seed(seed, token="cli-token", org_id="AAAAAAAA-2222-4333-8444-555555555555")
    assert ("cli-token", "aaaaaaaa-2222-4333-8444-555555555555") == (state.token, state.org_id)


def test_seed_identity_wins_over_the_defaults() -> None:
    """Without explicit values the seed's token and org id are used."""
    seed = parse_seed({"token": "seed-token", "org_id": "11111111-2222-4333-8444-555555555555", "deployments": []})
    state = SimState.from_seed(seed)
    assert ("seed-token", "11111111-2222-4333-8444-555555555555") == (state.token, state.org_id)


def test_generated_seed_has_the_count_asked() -> None:
    """generate_seed(n) makes n deployments with distinct ids."""
    seed = generate_seed(500)
    assert (500, 500) == (len(seed.deployments), len({d.deployment_id for d in seed.deployments}))


def test_generated_seed_is_repeatable() -> None:
    """The same rng_seed gives the same organization; another one a different one."""
    assert generate_seed(50, rng_seed=3) == generate_seed(50, rng_seed=3)
    assert generate_seed(50, rng_seed=3) != generate_seed(50, rng_seed=4)


def test_generated_seed_spreads_over_about_30_combinations() -> None:
    """A large generated seed uses the 30 accelerator type x count combinations and every status."""
    seed = generate_seed(3000)
    combinations = {(d.accelerator_type[0], d.accelerator_count) for d in seed.deployments}
    statuses = {d.status for d in seed.deployments}
    assert (30, {"DEPLOYED", "DEPLOYING", "FAILED", "DELETED", "DELETING", "SCALED_DOWN"}) == (
        len(combinations),
        statuses,
    )


def test_generated_seed_builds_a_state() -> None:
    """A generated seed is consistent enough to build a simulator from (10,000 deployments)."""
    state = SimState.from_seed(generate_seed(10_000), clock=ManualClock())
    assert 10_000 == len(state.deployments)
