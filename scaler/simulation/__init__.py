"""``scaler simulate``: the real daemon against the simulator on a virtual clock, with the simulator's
ledger beside it (:mod:`.driver` runs it, :mod:`.report` says what happened, :mod:`.events` reads
scripted platform events, :mod:`.compare` sets two runs side by side)."""
