"""Which policy selects a deployment: globs, ids, accelerators, exclusions."""

from __future__ import annotations

from scaler.policy.matching import match_policies, selects

from .helpers import deployment, policy, policy_set

REPO = "0caac439-5518-4569-a3db-a2d505a189f2"


def test_fields_are_anded_and_list_entries_ored():
    """names OR-ed among themselves, AND-ed with accelerator_types."""
    p = policy('name: p\nmatch: {names: ["llama-*", "mistral-*"], accelerator_types: [nvidia-l4]}')
    assert [True, True, False, False] == [
        selects(p.match, deployment("llama-8b", accelerator="nvidia-l4")),
        selects(p.match, deployment("mistral-7b", accelerator="nvidia-l4")),
        selects(p.match, deployment("llama-70b", accelerator="nvidia-h100")),
        selects(p.match, deployment("whisper", accelerator="nvidia-l4")),
    ]


def test_exclude_names_wins():
    """An excluded name is never selected."""
    p = policy('name: p\nmatch: {names: ["llama-*"], exclude_names: ["*-canary"]}')
    assert (True, False) == (selects(p.match, deployment("llama-8b")), selects(p.match, deployment("llama-8b-canary")))


def test_ids_and_model_repos():
    """ids, model_repo_ids and model_repo_names select by the deployment's identifiers."""
    d = deployment("whisper-v3", deployment_id="1e99a854-26de-4c19-b6b6-68c7e03c39c3", model_repo_id=REPO, model_repo_name="whisper-v3-arabic-h100")
    assert selects(policy("name: p\nmatch: {ids: [1e99a854-26de-4c19-b6b6-68c7e03c39c3]}").match, d)
    assert selects(policy(f"name: p\nmatch: {{model_repo_ids: [{REPO}]}}").match, d)
    assert selects(policy('name: p\nmatch: {model_repo_names: ["whisper-*"]}').match, d)
    assert not selects(policy('name: p\nmatch: {model_repo_names: ["llama-*"]}').match, d)


def test_globs_are_case_sensitive_and_whole_name():
    """Globs match the whole name, case-sensitively."""
    p = policy('name: p\nmatch: {names: ["llama"]}')
    assert (False, False) == (selects(p.match, deployment("llama-8b")), selects(p.match, deployment("LLAMA")))


def test_conflict_lists_tied_policies_in_file_order():
    """Policies tied at the highest priority are a conflict, listed in file order; lower ones do not count."""
    policies = policy_set(
        """
        - name: low
          priority: -1
          match: {names: ["*"]}
        - name: b
          match: {names: ["x*"]}
        - name: a
          match: {accelerator_types: [nvidia-l4]}
        """
    )
    matched = match_policies(policies, deployment("x1"))
    assert (None, ("b", "a")) == (matched.policy, matched.conflict)


def test_a_remembered_match_follows_a_renamed_deployment():
    """The set remembers each deployment's match; the same deployment under a new name is matched afresh."""
    policies = policy_set(
        """
        - name: llamas
          match: {names: ["llama-*"]}
        """
    )
    deployment_id = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
    before = match_policies(policies, deployment("llama-8b", deployment_id=deployment_id))
    again = match_policies(policies, deployment("llama-8b", deployment_id=deployment_id))
    renamed = match_policies(policies, deployment("whisper-v3", deployment_id=deployment_id))
    assert ("llamas", True, None) == (
        before.policy.name if before.policy else None,
        again is before,
        renamed.policy,
    )


def test_a_policy_listing_many_ids_selects_exactly_those():
    """ids is a set: with a thousand ids listed, a listed deployment is selected and another one is not."""
    listed = [f"00000000-0000-4000-8000-{number:012d}" for number in range(1000)]
    p = policy("name: p\nmatch: {ids: [" + ", ".join(listed) + "]}")
    assert (True, False) == (
        selects(p.match, deployment("a", deployment_id=listed[-1])),
        selects(p.match, deployment("b", deployment_id="1e99a854-26de-4c19-b6b6-68c7e03c39c3")),
    )
