"""The cursor scheme of every list route (``prisme_chassis.pagination``)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_chassis import pagination


@given(st.uuids(), st.text(), st.uuids())
def test_a_free_text_part_survives_the_cursor_whatever_it_holds(
    first: uuid.UUID, middle: str, last: uuid.UUID
) -> None:
    cursor = pagination.encode(first, pagination.text_part(middle), last)
    assert pagination.decode(cursor, uuid.UUID, pagination.text, uuid.UUID) == (
        first,
        middle,
        last,
    )


def test_a_cursor_of_another_shape_is_refused() -> None:
    cursor = pagination.encode(uuid.uuid4(), "not hex")
    with pytest.raises(pagination.InvalidCursor):
        pagination.decode(cursor, uuid.UUID, pagination.text)
    with pytest.raises(pagination.InvalidCursor):
        pagination.decode(cursor, uuid.UUID)
