"""Notices to people before and after the scaler acts, posted to webhooks.

:mod:`~scaler.daemon.notify.notice` owns what one notice says (its JSON body and its line of text),
:mod:`~scaler.daemon.notify.delivery` how it travels (a bounded queue and a background sender per
webhook, retries), and :mod:`~scaler.daemon.notify.watch` when one is due (it reads the board, the
journal's failed actions, the exceptions and the organization's state, and claims each notice in
the store so that it is sent once, by the leader).
"""

from scaler.daemon.notify.delivery import Delivery
from scaler.daemon.notify.notice import Notice
from scaler.daemon.notify.watch import Notifier

__all__ = ["Delivery", "Notice", "Notifier"]
