"""Notices sent: a one-time notice is claimed once, a condition's last notice is switched, old ones pruned."""

from __future__ import annotations

from scaler.store import Store
from tests.store.conftest import at


def test_a_notice_is_claimed_once(store: Store) -> None:
    """The first claim of a key wins; every later one (another process, a restart) is refused."""
    assert store.claim_notification("transition_upcoming:a:2025-03-03T19:00Z", "transition_upcoming", at(0))
    assert not store.claim_notification("transition_upcoming:a:2025-03-03T19:00Z", "transition_upcoming", at(1))
    assert store.claim_notification("transition_upcoming:a:2025-03-04T19:00Z", "transition_upcoming", at(1))


def test_a_condition_reports_the_event_it_replaces(store: Store) -> None:
    """A condition's first event changes it from nothing; the same again changes nothing; a change names the old one."""
    assert (True, None) == store.switch_notification("wallet", "wallet_unblocked", at(0))
    assert (False, "wallet_unblocked") == store.switch_notification("wallet", "wallet_unblocked", at(1))
    assert (True, "wallet_unblocked") == store.switch_notification("wallet", "wallet_blocked", at(2))
    assert (False, "wallet_blocked") == store.switch_notification("wallet", "wallet_blocked", at(3))
    assert (True, "wallet_blocked") == store.switch_notification("wallet", "wallet_unblocked", at(4))


def test_old_notices_are_pruned_but_conditions_kept(store: Store) -> None:
    """Pruning forgets the one-time notices noted before the instant and keeps the named conditions."""
    store.claim_notification("exception_created:x", "exception_created", at(0))
    store.claim_notification("exception_created:y", "exception_created", at(10))
    store.switch_notification("wallet", "wallet_blocked", at(0))
    assert 1 == store.prune_notifications(at(5), keep=["wallet", "auth"])
    assert store.claim_notification("exception_created:x", "exception_created", at(11))
    assert not store.claim_notification("exception_created:y", "exception_created", at(11))
    assert (False, "wallet_blocked") == store.switch_notification("wallet", "wallet_blocked", at(11))
