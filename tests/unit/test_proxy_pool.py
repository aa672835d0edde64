"""The upstream pool's bookkeeping without sockets: the running loop, and waits that end early."""

from __future__ import annotations

import asyncio
import threading

from stockade.server.proxy.pool import Connection, UpstreamPool


def _pool() -> UpstreamPool:
    return UpstreamPool("127.0.0.1", 9, connect_timeout=1.0, read_timeout=60.0, max_idle=4)


def test_the_running_loop_is_the_pools_while_it_runs_in_this_thread() -> None:
    pool = _pool()

    async def loops() -> tuple[bool, bool]:
        first = pool.running_loop()
        pool.take_idle(first)  # the pool now belongs to this loop
        return first is asyncio.get_running_loop(), pool.running_loop() is first

    assert asyncio.run(loops()) == (True, True)
    assert asyncio.run(loops()) == (True, True)  # another loop, not the stopped one

    seen: list[bool] = []

    def other_thread() -> None:
        async def check() -> None:
            seen.append(pool.running_loop() is asyncio.get_running_loop())

        asyncio.run(check())

    async def meanwhile() -> None:
        pool.take_idle(asyncio.get_running_loop())
        thread = threading.Thread(target=other_thread)
        thread.start()
        await asyncio.to_thread(thread.join)

    asyncio.run(meanwhile())
    assert seen == [True]  # a loop running in another thread is not this thread's


def test_a_cancelled_wait_leaves_no_waiter_behind() -> None:
    async def main() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        pool = _pool()
        pool.take_idle(loop)
        conn = Connection(pool, loop)
        conn.begin(head=False)

        async def waiting() -> None:
            await conn.wait()

        task = loop.create_task(waiting())
        await asyncio.sleep(0)
        waiting_then = conn.check_wait(loop.time())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        waiting_after_cancel = conn.check_wait(loop.time() + 3600)  # a done waiter never times out
        pool.release(conn)  # ends the exchange: the waiter is dropped
        pool.close()
        return waiting_then, waiting_after_cancel, conn._waiter is None

    assert asyncio.run(main()) == (True, False, True)
