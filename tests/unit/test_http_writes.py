"""PairedWrites (api/http_writes.py): a response's head and body leave in one write; nothing is held longer
than one turn of the event loop, and a close sends what is held first."""

from __future__ import annotations

import asyncio

from secustream.api.http_writes import PairedWrites


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_head_and_body_leave_together_and_a_lone_write_on_the_next_turn() -> None:
    async def scenario() -> list[list[bytes]]:
        real = Transport()
        paired = PairedWrites(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        seen = []
        paired.write(b"HTTP/1.1 200 OK\r\n\r\n")
        seen.append(list(real.writes))  # held
        paired.write(b"body")
        seen.append(list(real.writes))  # both, as one write
        paired.write(b"chunk")  # no follower: goes out on the loop's next turn
        seen.append(list(real.writes))
        await asyncio.sleep(0)
        seen.append(list(real.writes))
        assert paired.get_extra_info("peername") == "info:peername"  # the rest is the real transport's
        return seen

    assert asyncio.run(scenario()) == [[], [b"HTTP/1.1 200 OK\r\n\r\nbody"], [b"HTTP/1.1 200 OK\r\n\r\nbody"],
                                       [b"HTTP/1.1 200 OK\r\n\r\nbody", b"chunk"]]


def test_close_sends_what_is_held_first() -> None:
    async def scenario() -> Transport:
        real = Transport()
        paired = PairedWrites(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        paired.write(b"last words")
        paired.close()
        await asyncio.sleep(0)  # the pending flush finds nothing held and a closed transport
        return real

    real = asyncio.run(scenario())
    assert real.writes == [b"last words"] and real.closed
