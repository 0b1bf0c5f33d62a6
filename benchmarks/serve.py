"""recipegen serve under load: batching, time to first token, a long mixed run, and seeds kept.

    python benchmarks/serve.py [--tokens 200] [--clients 64] [--soak 2000] [--out benchmarks/results/serve.json]

One run directory with the default config's architecture and untrained weights (speed does not
depend on what the weights say; with them a recipe rarely ends before --tokens, so every recipe
costs the full length). One `recipegen serve` process on 127.0.0.1, and the load generator here,
an asyncio client (httpx) with at most --clients requests open at once. Measured in one run:

- sequential: recipes/s with one request at a time (each decoded alone, as batch 1);
- concurrent: recipes/s with --clients clients at once (the server batches up to --max-batch);
- one `recipegen generate` process per recipe (import, load, trace, decode), median of 3;
- time to the first streamed text with the server idle (first SSE piece of /v1/completions);
- soak: --soak requests, --clients at a time, a tenth malformed (bad JSON, unknown field, out of
  range) and a tenth streamed and dropped by the client after its first piece: failures of
  well-formed requests, 5xx answers, and the server's resident memory after warm-up and at the end;
- the same seed and settings through /v1/recipes and through `recipegen generate --json`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import httpx  # noqa: E402
import keras  # noqa: E402

from recipegen import config as config_module  # noqa: E402
from recipegen import run as run_files  # noqa: E402
from recipegen.config import Config  # noqa: E402
from recipegen.files import atomic_write_text, write_json  # noqa: E402
from recipegen.model import build_model  # noqa: E402
from recipegen.text import END_TOKEN  # noqa: E402

RECIPEGEN = str(Path(sys.executable).with_name("recipegen"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_server(run_dir: Path, max_batch: int) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    process = subprocess.Popen([RECIPEGEN, "serve", "--model", str(run_dir), "--port", "0", "--max-batch",
                                str(max_batch)], stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    url = re.search(r"http://\S+", line)
    if not url:
        raise RuntimeError(f"the server did not start: {line}{process.stderr.read()}")
    return process, url.group(0), time.perf_counter() - started


async def recipes_per_second(url: str, count: int, clients: int, tokens: int) -> float:
    limit = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients)) as client:
        async def one(seed: int) -> None:
            async with limit:
                answer = await client.post(url + "/v1/recipes", json={"seed": seed, "max_tokens": tokens})
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(seed) for seed in range(count)))
        return count / (time.perf_counter() - started)


async def first_token_seconds(url: str, model: str, repeats: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(timeout=60) as client:
        for seed in range(repeats):
            body = {"model": model, "prompt": "recipe for", "max_tokens": 200, "seed": seed, "stream": True}
            started = time.perf_counter()
            async with client.stream("POST", url + "/v1/completions", json=body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        times.append(time.perf_counter() - started)
                        break
            await asyncio.sleep(1.0)  # the abandoned stream's batch ends: the server is idle again
    return times


async def soak(url: str, model: str, count: int, clients: int, tokens: int) -> dict[str, int]:
    limit = asyncio.Semaphore(clients)
    outcome = {"well_formed": 0, "well_formed_failed": 0, "malformed": 0, "malformed_not_4xx": 0, "dropped": 0,
               "5xx": 0}
    bad_bodies = [b'{"seed": ', json.dumps({"colour": "red"}).encode(), json.dumps({"temperature": -1}).encode()]
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients)) as client:
        async def one(i: int) -> None:
            async with limit:
                if i % 10 == 3:
                    answer = await client.post(url + "/v1/recipes", content=bad_bodies[i % 3],
                                               headers={"Content-Type": "application/json"})
                    outcome["malformed"] += 1
                    outcome["malformed_not_4xx"] += not 400 <= answer.status_code < 500
                elif i % 10 == 7:
                    body = {"model": model, "prompt": "recipe for", "max_tokens": tokens, "seed": i, "stream": True}
                    async with client.stream("POST", url + "/v1/completions", json=body) as answer:
                        outcome["well_formed_failed"] += answer.status_code != 200
                        outcome["5xx"] += answer.status_code >= 500
                        async for _ in answer.aiter_lines():
                            break  # the client goes away mid-stream
                    outcome["dropped"] += 1
                else:
                    answer = await client.post(url + "/v1/recipes", json={"seed": i, "max_tokens": tokens})
                    outcome["well_formed"] += 1
                    outcome["well_formed_failed"] += answer.status_code != 200
                if i % 10 != 7:
                    outcome["5xx"] += answer.status_code >= 500

        await asyncio.gather(*(one(i) for i in range(count)))
    return outcome


def per_process_recipes_per_second(run_dir: Path, tokens: int, repeats: int = 3) -> float:
    walls = []
    for seed in range(repeats):
        started = time.perf_counter()
        subprocess.run([RECIPEGEN, "generate", "--model", str(run_dir), "--prompt", "recipe for", "--max-tokens",
                        str(tokens), "--seed", str(seed)], check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
    return 1 / statistics.median(walls)


def same_as_generate(url: str, run_dir: Path, tokens: int) -> bool:
    served = httpx.post(url + "/v1/recipes", json={"seed": 7, "n": 2, "max_tokens": tokens, "temperature": 0.8},
                        timeout=600).json()
    generated = json.loads(subprocess.run([RECIPEGEN, "generate", "--model", str(run_dir), "--seed", "7", "-n", "2",
                                           "--max-tokens", str(tokens), "--temperature", "0.8", "--json"],
                                          check=True, capture_output=True, text=True).stdout)
    return [r["text"] for r in served["recipes"]] == [s["text"] for s in generated["samples"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200, help="tokens per recipe")
    parser.add_argument("--clients", type=int, default=64, help="requests open at once")
    parser.add_argument("--max-batch", type=int, default=32, help="the server's --max-batch")
    parser.add_argument("--sequential", type=int, default=8, help="requests sent one at a time")
    parser.add_argument("--concurrent", type=int, default=256, help="requests sent --clients at a time")
    parser.add_argument("--soak", type=int, default=2000, help="requests of the mixed run")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve.json"))
    args = parser.parse_args()

    config = Config()
    config = dataclasses.replace(config, sample=dataclasses.replace(config.sample, max_tokens=args.tokens))
    vocabulary = ["", "[UNK]", END_TOKEN, "recipe", "for"] + [f"w{i}" for i in range(5, config.data.vocab_size)]
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench"
        run_dir.mkdir()
        run_files.save_model(build_model(config.model, len(vocabulary)), run_dir / run_files.MODEL_FILE)
        write_json(run_dir / run_files.VOCABULARY_FILE, vocabulary)
        atomic_write_text(run_dir / run_files.CONFIG_FILE, config_module.dumps(config))
        process, url, startup = start_server(run_dir, args.max_batch)
        try:
            model = httpx.get(url + "/v1/models").json()["data"][0]["id"]
            warm_rss = rss_mb(process.pid)
            sequential = asyncio.run(recipes_per_second(url, args.sequential, 1, args.tokens))
            concurrent = asyncio.run(recipes_per_second(url, args.concurrent, args.clients, args.tokens))
            ttft = asyncio.run(first_token_seconds(url, model, 20))
            rss_before_soak = rss_mb(process.pid)
            started = time.perf_counter()
            soaked = asyncio.run(soak(url, model, args.soak, args.clients, args.tokens))
            soak_seconds = time.perf_counter() - started
            end_rss = rss_mb(process.pid)
            same = same_as_generate(url, run_dir, args.tokens)
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(120)
        per_process = per_process_recipes_per_second(run_dir, args.tokens)

    result = {
        "tokens": args.tokens, "clients": args.clients, "max_batch": args.max_batch, "startup_s": startup,
        "sequential_recipes_per_s": sequential, "concurrent_recipes_per_s": concurrent,
        "per_process_recipes_per_s": per_process,
        "concurrent_vs_sequential": concurrent / sequential, "concurrent_vs_per_process": concurrent / per_process,
        "ttft_median_ms": 1000 * statistics.median(ttft), "ttft_max_ms": 1000 * max(ttft),
        "soak": soaked | {"seconds": soak_seconds}, "rss_after_warm_up_mb": warm_rss,
        "rss_before_soak_mb": rss_before_soak, "rss_end_mb": end_rss, "rss_end_vs_warm_up": end_rss / warm_rss,
        "same_recipe_as_generate": same, "server_exit_code": exit_code,
    }
    print(f"{'measure':44} {'value':>12}")
    for name, value in result.items():
        shown = json.dumps(value) if isinstance(value, dict) else (f"{value:.3f}" if isinstance(value, float)
                                                                     else str(value))
        print(f"{name:44} {shown:>12}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
