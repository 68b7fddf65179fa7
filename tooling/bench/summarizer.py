"""Speed of the summarizer engines: windows/s and tokens/s per batch size, cache hits, the HTTP path.

The OpenAI-compatible engine is measured against a local llama.cpp server (``python -m
llama_cpp.server``, same GGUF) standing in for ``vllm serve``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from engines.summarize import build_summarizer
from engines.summarize.schema import SummaryRequest
from tooling.infra.ports import free_port

Log = Callable[[str], None]


def _generated_tokens(engine: Any) -> int:
    return int(getattr(engine, "generated_tokens", 0) or getattr(engine, "completion_tokens", 0))


def time_batches(engine: Any, name: str, windows: Sequence[SummaryRequest], batch_sizes: Sequence[int],
                 log: Log) -> list[dict]:
    """One fresh (uncached) batch per size, then the largest batch again from the cache."""
    rows, cursor = [], 0
    last: Sequence[SummaryRequest] = ()
    for size in batch_sizes:
        batch = windows[cursor: cursor + size]
        cursor += size
        if len(batch) < size:
            log(f"{name}: only {len(batch)} windows left for batch {size}, skipped")
            continue
        tokens_before, calls_before = _generated_tokens(engine), getattr(engine, "llm_calls", 0)
        start = time.perf_counter()
        out = engine.summarize(batch)
        seconds = time.perf_counter() - start
        tokens = _generated_tokens(engine) - tokens_before
        rows.append({
            "engine": name, "batch": size, "seconds": round(seconds, 3),
            "windows_per_s": round(size / seconds, 3),
            "gen_tokens_per_s": round(tokens / seconds, 2) if tokens else None,
            "llm_calls": getattr(engine, "llm_calls", 0) - calls_before,
            "fallbacks": sum(s.is_fallback for s in out), "cache": "miss",
        })
        log(f"{name} batch {size}: {rows[-1]['windows_per_s']} windows/s")
        last = batch
    if last and hasattr(engine, "cache"):
        calls_before = engine.llm_calls
        start = time.perf_counter()
        engine.summarize(last)
        seconds = time.perf_counter() - start
        rows.append({
            "engine": name, "batch": len(last), "seconds": round(seconds, 4),
            "windows_per_s": round(len(last) / max(seconds, 1e-9), 1), "gen_tokens_per_s": None,
            "llm_calls": engine.llm_calls - calls_before, "fallbacks": 0, "cache": "hit",
        })
    return rows


class LlamaCppServer:
    """``python -m llama_cpp.server`` on a free loopback port (context manager)."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int, decode_threads: int, log: Log) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
                    "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", str(decode_threads),
                    "--n_threads_batch", str(threads), "--model_alias", "ampere-summarizer"]
        self.log = log
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        self.log_file = tempfile.NamedTemporaryFile("w+b", prefix="llama-server-", suffix=".log")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log_file.seek(0)
                err = self.log_file.read().decode(errors="replace")[-1500:]
                raise RuntimeError(f"llama.cpp server exited early (needs ampere-stream[llm-server]):\n{err}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("llama.cpp server did not answer within 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()


def run_benchmark(
    windows: Sequence[SummaryRequest],
    *,
    engines: Sequence[str],
    batch_sizes: Sequence[int],
    llm_options: dict[str, Any],
    openai_batch_sizes: Sequence[int] = (1, 4),
    log: Log = print,
) -> dict[str, Any]:
    """Timings of each engine; ``llm_options`` carry model_path, threads, decode_threads, token_budget."""
    rows: list[dict] = []
    notes: list[str] = []
    need = sum(batch_sizes)
    if "extractive" in engines:
        rows += time_batches(build_summarizer("extractive"), "extractive", windows, batch_sizes, log)
    if "llamacpp" in engines:
        engine = build_summarizer("llamacpp", **llm_options)
        rows += time_batches(engine, "llamacpp", windows, batch_sizes, log)
        notes.append("llamacpp: one sequence at a time in-process; a batch is sequential, so windows/s does not "
                     "grow with the batch size. Shared few-shot prefix stays in the KV cache.")
        n_ctx = engine.llm.n_ctx()
        del engine
    else:
        n_ctx = 4096
    if "openai" in engines:
        sizes = list(openai_batch_sizes)
        with LlamaCppServer(Path(llm_options["model_path"]), n_ctx, llm_options.get("threads", 2),
                            llm_options.get("decode_threads", 1), log) as server:
            engine = build_summarizer(
                "openai", base_url=server.base_url, model="ampere-summarizer", response_format="json_object",
                timeout_s=llm_options.get("timeout_s", 60.0), max_concurrency=4, retries=1,
                token_budget=llm_options.get("token_budget", 384),
            )
            engine.summarize([SummaryRequest("warm-up", "warm up: a plain white cotton t-shirt, 10 dollars")])
            offset = windows[need: need + sum(sizes)] if len(windows) >= need + sum(sizes) else windows
            rows += time_batches(engine, "openai (llama.cpp server)", offset, sizes, log)
        notes.append("openai: OpenAI-compatible client against a local llama.cpp server (same GGUF) as the "
                     "stand-in for `vllm serve`; that server decodes one request at a time.")
    notes.append("vllm: not run here (no GPU on this machine).")
    return {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "options": {k: str(v) for k, v in llm_options.items() if k != "model_path"}
        | {"model": Path(str(llm_options.get("model_path", ""))).name},
        "rows": rows,
        "notes": notes,
    }


def markdown_table(result: dict[str, Any]) -> str:
    """The benchmark as a markdown table plus notes."""
    lines = [
        "| engine | batch | cache | seconds | windows/s | gen tokens/s | LLM calls | fallbacks |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['engine']} | {r['batch']} | {r['cache']} | {r['seconds']} | {r['windows_per_s']} | "
                     f"{r['gen_tokens_per_s'] if r['gen_tokens_per_s'] is not None else '–'} | {r['llm_calls']} | "
                     f"{r['fallbacks']} |")
    machine = result["machine"]
    lines += ["", (f"Machine: {machine['cores']} cores ({machine['cpu']}), Python {machine['python']}; "
                   f"options: {result['options']}"), ""]
    lines += [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"
