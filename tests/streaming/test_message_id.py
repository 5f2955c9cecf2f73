"""A message without a producer's id gets one that survives a consumer restart."""

from __future__ import annotations

from regionlab.streaming.consumer import message_id_of


def test_the_producers_id_wins() -> None:
    assert message_id_of("enc-42", b"{}") == "enc-42"


def test_without_an_id_the_body_decides_not_the_delivery_tag() -> None:
    first = b'{"resourceType": "Encounter", "id": "a"}'
    other = b'{"resourceType": "Encounter", "id": "b"}'
    # Redelivered (any channel, any tag): the same id, so it is skipped as a duplicate.
    assert message_id_of(None, first) == message_id_of("", first)
    # A new message after a restart (tags start at 1 again): a different id, not lost.
    assert message_id_of(None, first) != message_id_of(None, other)
    assert not message_id_of(None, first).startswith("delivery-")
