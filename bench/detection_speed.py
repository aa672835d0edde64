"""Cost of inspecting one request, in-process, against in-run baselines.

python bench/detection_speed.py

Prints µs per inspection of a clean request with a typical query (against a dict lookup),
and of a 64 KB urlencoded form body (against ``json.loads`` of a 64 KB JSON document), with
the memo warm and cold (every request distinct).
"""

from __future__ import annotations

import json
import timeit

from stockade.detection import Engine, Request


def per_call(function: object, number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    engine = Engine()
    headers = (
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        ("Referer", "https://www.example.com/shop/"),
        ("Cookie", "sid=8f14e45fceea167a; lang=en"),
    )
    clean = Request(
        path="/shop/search", raw_path="/shop/search", query="q=hiking+boots&size=42&page=2&sort=price", headers=headers
    )
    counter = iter(range(10**9))

    def cold() -> object:
        n = next(counter)
        return engine.inspect(
            Request(
                path="/shop/search",
                raw_path="/shop/search",
                query=f"q=hiking+boots+{n}&size=42&page=2",
                headers=headers,
            )
        )

    fields = "&".join(f"field{i}=value+number+{i}+with+some+text" for i in range(2000))
    body = fields[: 64 * 1024].encode()
    form = Request(
        method="POST",
        path="/form",
        raw_path="/form",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        content_type="application/x-www-form-urlencoded",
        body=body,
    )
    document = json.dumps({f"field{i}": f"value number {i} with some text" for i in range(1500)})[: 64 * 1024 - 2]
    document = document[: document.rfind(",")] + "}"
    table = {"/shop/search": 1}
    base = per_call(lambda: table.get("/shop/search"), 200_000)
    warm = per_call(lambda: engine.inspect(clean), 20_000)
    cold_us = per_call(cold, 5_000)
    print(f"dict lookup (baseline)             {base:8.2f} µs")
    print(f"clean request, memo warm           {warm:8.2f} µs  ({warm / base:.0f}x baseline)")
    print(f"clean request, every one distinct  {cold_us:8.2f} µs  ({cold_us / base:.0f}x baseline)")
    loads = per_call(lambda: json.loads(document), 200)
    formed = per_call(lambda: engine.inspect(form), 50)
    print(f"json.loads 64 KB (baseline)        {loads:8.1f} µs")
    print(f"64 KB form body                    {formed:8.1f} µs  ({formed / loads:.1f}x baseline)")


if __name__ == "__main__":
    main()
