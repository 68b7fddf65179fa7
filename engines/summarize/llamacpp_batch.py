"""Several llama.cpp sequences decoded together: continuous batching in one context, greedy under a grammar.

The prompt prefix every window shares (system text + examples) is evaluated once into sequence 0
and its KV cells are shared by every slot. Each step then runs one ``llama_decode`` over one new
token of every running slot (plus the transcripts of newly admitted windows), so the weights are
read once per step instead of once per window; a finished slot takes the next window at once.

Grammar: the greedy token is checked first and the grammar masks the whole vocabulary only when
that token is not allowed. Greedy decoding gives the same token either way, at a fraction of the
cost of masking ~150k candidates on every step.

Jump-forward (``keys``): the JSON keys the schema fixes are fed as a chunk with the next step
instead of being generated one token per step (:mod:`engines.summarize.jump_forward`); each forced
token is checked against the grammar first.
"""

from __future__ import annotations

import ctypes
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.summarize.jump_forward import KeyForcer, KeyTree

PREFIX_SEQ = 0  # holds the shared prompt prefix; slots use sequence ids 1..parallel


class GenerationTimeout(TimeoutError):
    """A sequence ran past its deadline."""


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix all ``seqs`` share (0 for none)."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        tok = first[i]
        if any(s[i] != tok for s in seqs[1:]):
            return i
    return n


def slot_timeout(timeout_s: float, sharing: int) -> float:
    """A window's deadline when ``sharing`` windows take the decode steps together: ``timeout_s`` is
    what one window may take on its own, and each of them gets about 1/``sharing`` of every step."""
    return timeout_s * max(1, sharing)


def plan_batch(pending: Sequence[tuple[int, int]], capacity: int) -> list[tuple[int, int]]:
    """How many pending tokens each slot feeds into one decode call of ``capacity`` tokens.

    ``pending`` is (slot, tokens waiting) in priority order (decoding slots first, then prefills);
    returns (slot, tokens taken) for the slots that get at least one token, never over capacity.
    """
    plan, left = [], capacity
    for slot, waiting in pending:
        if left <= 0:
            break
        take = min(waiting, left)
        if take > 0:
            plan.append((slot, take))
            left -= take
    return plan


@dataclass
class _Slot:
    seq: int
    job: int
    pos: int
    pending: list[int]
    deadline: float
    sampler: Any
    out: list[int] = field(default_factory=list)
    forcer: KeyForcer | None = None


class BatchDecoder:
    """Greedy, grammar-constrained generation of many prompts at once over one llama.cpp model."""

    def __init__(self, llm: Any, grammar: Any, *, parallel: int, n_ctx: int, threads: int,
                 n_batch: int = 512, keys: KeyTree | None = None) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaTokenDataArray

        self._lib = llama_cpp
        self.llm = llm
        self.parallel = max(1, parallel)
        self.n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = self.parallel + 1
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = True  # slots share the prefix cells instead of copying them
        params.no_perf = True
        self.ctx = LlamaContext(model=llm._model, params=params, verbose=False)
        self.batch = LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=self.parallel + 1, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.n_vocab = llm.n_vocab()
        self._grammar = (grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        self._all = LlamaTokenDataArray(n_vocab=self.n_vocab)
        self._one_data = (llama_cpp.llama_token_data * 1)()
        self._one = llama_cpp.llama_token_data_array(data=self._one_data, size=1, selected=-1, sorted=False)
        self.prefix: list[int] = []  # tokens held by PREFIX_SEQ
        self.keys = keys
        self.generated_tokens = 0
        self.forced_tokens = 0

    # -- public --------------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[list[int]], max_tokens: int, timeout_s: float) -> list[str | BaseException]:
        """One completion (or the error that stopped it) per prompt, in order."""
        if not prompts:
            return []
        self._share_prefix([p[:-1] for p in prompts])  # every prompt keeps >= 1 token to produce logits
        results: list[str | BaseException | None] = [None] * len(prompts)
        queue = deque(range(len(prompts)))
        free = list(range(self.parallel, 0, -1))
        running: dict[int, _Slot] = {}
        try:
            while queue or running:
                while queue and free:
                    job = queue.popleft()
                    sharing = min(self.parallel, len(running) + 1 + len(queue))
                    running[job] = self._admit(free.pop(), job, prompts[job], slot_timeout(timeout_s, sharing))
                for job, reply in self._step(running, max_tokens).items():
                    slot = running.pop(job)
                    results[job] = reply
                    self._release(slot)
                    free.append(slot.seq)
        finally:
            for slot in running.values():
                self._release(slot)
        return [r if r is not None else RuntimeError("no completion") for r in results]

    # -- steps ---------------------------------------------------------------------------------------
    def _share_prefix(self, heads: list[list[int]]) -> None:
        """Make PREFIX_SEQ hold the longest prefix the prompts share (re-using what it already holds)."""
        shared = heads[0][: common_prefix(heads)]
        if len(heads) == 1 and self.prefix:  # one prompt: share only what the last batch shared
            shared = shared[: common_prefix([self.prefix, shared])] or shared
        keep = common_prefix([self.prefix, shared])
        self._lib.llama_memory_seq_rm(self.ctx.memory, PREFIX_SEQ, keep, -1)
        rest = shared[keep:]
        for start in range(0, len(rest), self.n_batch):
            chunk = rest[start: start + self.n_batch]
            self.batch.reset()
            self._add(chunk, keep + start, PREFIX_SEQ, logits_last=False)
            self.ctx.decode(self.batch)
        self.prefix = list(shared)

    def _admit(self, seq: int, job: int, prompt: list[int], timeout_s: float) -> _Slot:
        n = len(self.prefix)
        self._lib.llama_memory_seq_rm(self.ctx.memory, seq, 0, -1)
        if n:
            self._lib.llama_memory_seq_cp(self.ctx.memory, PREFIX_SEQ, seq, 0, n)
        sampler = self._lib.llama_sampler_init_grammar(self.vocab, *self._grammar)
        if not sampler:
            raise RuntimeError("llama.cpp could not build the output grammar")
        return _Slot(seq=seq, job=job, pos=n, pending=list(prompt[n:]), deadline=time.monotonic() + timeout_s,
                     sampler=sampler, forcer=KeyForcer(self.keys) if self.keys is not None else None)

    def _release(self, slot: _Slot) -> None:
        self._lib.llama_memory_seq_rm(self.ctx.memory, slot.seq, 0, -1)
        if slot.sampler:
            self._lib.llama_sampler_free(slot.sampler)
            slot.sampler = None

    def _step(self, running: dict[int, _Slot], max_tokens: int) -> dict[int, str | BaseException]:
        """Decode one batch; returns the jobs that finished in it."""
        order = sorted(running.values(), key=lambda s: (len(s.pending) > 1, s.seq))  # decoding slots first
        plan = plan_batch([(s.job, len(s.pending)) for s in order], self.n_batch)
        self.batch.reset()
        sample_at: dict[int, int] = {}
        for job, take in plan:
            slot = running[job]
            tokens, slot.pending = slot.pending[:take], slot.pending[take:]
            start = self.batch.n_tokens()
            self._add(tokens, slot.pos, slot.seq, logits_last=not slot.pending)
            slot.pos += take
            if not slot.pending:
                sample_at[job] = start + take - 1
        self.ctx.decode(self.batch)
        done: dict[int, str | BaseException] = {}
        now = time.monotonic()
        for job, index in sample_at.items():
            slot = running[job]
            token = self._pick(slot.sampler, index)
            if token is None or self._lib.llama_vocab_is_eog(self.vocab, token):
                done[job] = self._text(slot)
                continue
            slot.out.append(token)
            self.generated_tokens += 1
            if len(slot.out) >= max_tokens:
                done[job] = self._text(slot)
            elif now > slot.deadline:
                done[job] = GenerationTimeout(f"generation ran past its deadline after {len(slot.out)} tokens")
            else:
                slot.pending = [token, *self._jump_forward(slot, token)]
        return done

    def _jump_forward(self, slot: _Slot, token: int) -> list[int]:
        """The key tokens due after ``token`` that the grammar allows (accepted and added to the output)."""
        if slot.forcer is None:
            return []
        due = slot.forcer.feed(self.llm.detokenize([token]).decode("utf-8", errors="replace"))
        if not due:
            return []
        forced: list[int] = []
        for tok in self.llm.tokenize(due.encode("utf-8"), add_bos=False, special=False):
            if not self._allowed(slot.sampler, tok):
                break
            self._lib.llama_sampler_accept(slot.sampler, tok)
            forced.append(tok)
        if forced:
            slot.forcer.feed(self.llm.detokenize(forced).decode("utf-8", errors="replace"))
            slot.out.extend(forced)
            self.forced_tokens += len(forced)
        return forced

    def _allowed(self, sampler: Any, token: int, logit: float = 0.0) -> bool:
        """Whether the grammar allows ``token`` next (checked on a one-token candidate array)."""
        self._one_data[0].id, self._one_data[0].logit, self._one_data[0].p = token, logit, 0.0
        self._one.size, self._one.selected, self._one.sorted = 1, -1, False
        self._lib.llama_sampler_apply(sampler, ctypes.byref(self._one))
        return bool(np.isfinite(self._one_data[0].logit))

    def _add(self, tokens: Sequence[int], pos: int, seq: int, *, logits_last: bool) -> None:
        b = self.batch.batch
        for k, token in enumerate(tokens):
            i = b.n_tokens
            b.token[i] = token
            b.pos[i] = pos + k
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits_last and k == len(tokens) - 1
            b.n_tokens += 1

    def _pick(self, sampler: Any, index: int) -> int | None:
        """The greedy token the grammar allows at batch ``index`` (accepted into the grammar), or None."""
        ptr = self._lib.llama_get_logits_ith(self.ctx.ctx, index)
        logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        token = int(np.argmax(logits))
        if not self._allowed(sampler, token, float(logits[token])):  # not allowed here: mask the whole vocabulary
            self._all.copy_logits(logits)
            self._lib.llama_sampler_apply(sampler, ctypes.byref(self._all.candidates))
            masked = self._all.candidates_data.logit
            token = int(np.argmax(masked))
            if not np.isfinite(masked[token]):
                return None  # the grammar allows nothing: end here, validation decides
        if not self._lib.llama_vocab_is_eog(self.vocab, token):
            self._lib.llama_sampler_accept(sampler, token)
        return token

    def _text(self, slot: _Slot) -> str:
        return self.llm.detokenize(slot.out).decode("utf-8", errors="replace")
