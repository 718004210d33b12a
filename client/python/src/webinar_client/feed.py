"""The state machine shared by the sync and async change feeds: the cursor to resume from,
the changes received but not yet handed out, and whether a failure ends the feed or only the
current stream. The server guarantees that resuming from a cursor misses nothing and repeats
nothing, so neither does a feed.
"""

from __future__ import annotations

from collections import deque

import grpc

from webinar_client.pb.webinar.v1 import metrics_pb2
from webinar_client.retry import RetryPolicy

# Codes that mean "the connection went away": reconnect, however often.
RECONNECT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
# Codes a reset connection sometimes surfaces as: reconnect a few times in a row.
ODD = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
MAX_ODD_FAILURES = 5
RECONNECT_BACKOFF = RetryPolicy(max_attempts=1 << 30, initial_backoff=0.2, max_backoff=10.0)


class FeedState:
    """Cursor, buffer and failure counts of one change feed."""

    def __init__(self, parent: str, after_cursor: str, webinar: str, backoff: RetryPolicy) -> None:
        self.parent = parent
        self.webinar = webinar
        self.cursor = after_cursor
        self.backoff = backoff
        self.buffer: deque[tuple[metrics_pb2.Change, str]] = deque()
        self.failures = 0
        self.odd_failures = 0
        self.closed = False

    def request(self) -> metrics_pb2.WatchChangesRequest:
        """The request that resumes after everything handed out so far."""
        return metrics_pb2.WatchChangesRequest(
            parent=self.parent, after_cursor=self.cursor, webinar=self.webinar
        )

    def receive(self, message: metrics_pb2.WatchChangesResponse) -> None:
        """Buffers a message's changes; a heartbeat only moves the cursor."""
        self.failures = 0
        self.odd_failures = 0
        changes = list(message.changes)
        if not changes:
            if message.cursor:
                self.cursor = message.cursor
            return
        for index, change in enumerate(changes):
            last = index == len(changes) - 1
            self.buffer.append((change, message.cursor if last and message.cursor else change.cursor))

    def pop(self) -> metrics_pb2.Change | None:
        """The next buffered change; the cursor moves past it."""
        if not self.buffer:
            return None
        change, cursor = self.buffer.popleft()
        if cursor:
            self.cursor = cursor
        return change

    def fatal(self, code: grpc.StatusCode | None) -> bool:
        """Whether a failure with `code` ends the feed (else: pause and reconnect)."""
        if code in RECONNECT:
            return False
        if code in ODD and self.odd_failures < MAX_ODD_FAILURES:
            self.odd_failures += 1
            return False
        return True

    def next_pause(self) -> float:
        """Seconds to wait before reconnecting."""
        pause = self.backoff.backoff(self.failures)
        self.failures += 1
        return pause
