"""The hub's ingest trunk: from the broker's sessions to stored, decided messages.

``link`` holds the two MQTT sessions (alarm lane, bulk lane) and their writer threads;
``pipeline`` decides each batch (contract check, duplicates, storage, presence, listeners);
``dedup`` tracks each (device, boot id) stream; ``prioritylock`` lets the alarm lane ahead of the
bulk lane; ``ratelimit`` sheds a flooding device; ``message_identity`` makes stored events
idempotent across workers and claims what one worker acts on; ``broker_backlog`` watches what
the broker holds for the hub.
"""
