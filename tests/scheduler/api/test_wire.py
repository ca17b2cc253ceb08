"""Conversions at the edge that are hand-written for speed must agree with protobuf's own."""

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from scheduler.api.outbound import ts

instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30)),
                                                   timezone(timedelta(hours=14))]))


@given(instants)
def test_ts_matches_timestamp_from_datetime(when: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(when)
    assert ts(when) == expected


def test_ts_keeps_none() -> None:
    assert ts(None) is None
