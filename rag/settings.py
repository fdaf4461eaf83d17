"""The one settings model. Every knob of the pipeline lives here with a description; values come from
arguments, then `RAG_*` environment variables (plus the standard `OPENAI_*` ones), then defaults.
This is the only module that reads the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", populate_by_name=True)

    # --- data and index -------------------------------------------------------------------------------
    data_dir: Path = Field(Path("data/raw"), description="Folder of source files ingested by default.")
    index_dir: Path = Field(Path("data/index"), description="Embedded Chroma directory (and caches).")
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (e.g. http://127.0.0.1:8000). Set → use it instead of the "
        "embedded index; needed when several processes read and write at once.")
    collection: str = Field("papers", description="Chroma collection name (3–512 characters).")

    # --- parsing ----------------------------------------------------------------------------------------
    max_abstract_chars: int = Field(20_000, description="Abstracts longer than this are rejected with a "
                                    "warning naming file:line.")
    max_file_bytes: int = Field(200_000_000, description="Source files bigger than this are refused.")

    # --- chunking and embedding ---------------------------------------------------------------------------
    chunk_tokens: int = Field(150, description="chunk_mode=tokens: chunk size in tiktoken (cl100k) tokens, title "
                              "excluded. Kept small so title + chunk fit MiniLM's 256 word-piece window.")
    chunk_overlap: int = Field(30, description="chunk_mode=tokens: token overlap between consecutive chunks of one "
                               "abstract.")
    embed_backend: Literal["auto", "onnx", "sentence-transformers", "openai"] = Field(
        "auto", description="auto = ONNX fast path when onnxruntime is installed, else sentence-transformers; "
        "openai = an OpenAI-compatible /embeddings endpoint (sends text to it).")
    embed_model: str = Field("all-MiniLM-L6-v2", description="Embedding model name. For the local backends "
                             "only the bundled all-MiniLM-L6-v2 is available offline.")
    embed_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible embeddings "
                                       "endpoint (embed_backend=openai).")
    embed_batch_size: int = Field(64, description="Texts per embedding call.")
    model_cache_dir: Path = Field(Path("data/models"), description="Where the ONNX export of the bundled "
                                  "model is cached (made once, on first use).")
    embed_precision: Literal["int8", "fp32"] = Field(
        "int8", description="ONNX backend: int8 = dynamically quantized weights (~2x faster on a CPU; SciFact train "
        "nDCG@10 0.729 vs 0.731 at fp32, question-set recall@10 equal, see eval/reports/bench/), fp32 = the "
        "full-precision model. The "
        "collection records it ('all-MiniLM-L6-v2@int8'): changing it needs `rag ingest --rebuild`. "
        "sentence-transformers is always fp32.")
    chunk_mode: Literal["window", "tokens"] = Field(
        "window", description="window = one chunk per abstract when title + abstract fit MiniLM's 256 word "
        "pieces, else the fewest sentence-aligned chunks that do, no overlap; tokens = llama-index "
        "SentenceSplitter chunks of chunk_tokens with chunk_overlap (the earlier chunking).")
    chunk_window: int = Field(192, ge=32, le=256, description="chunk_mode=window: most word pieces in a chunk's "
                              "embedded text (title + passage); 256 is MiniLM's whole window. 192 chosen on the "
                              "SciFact dev half (nDCG@10 0.742 at int8; 256: 0.732, 128: lower).")
    ingest_window: int = Field(1024, ge=1, description="Chunks embedded (sorted by length) and written per step "
                               "of an ingest: bounds memory on any corpus size; a killed run loses one step.")

    # --- retrieval --------------------------------------------------------------------------------------
    dense_k: int = Field(60, description="Nearest chunks taken from the dense (embedding) search per query.")
    bm25_k: int = Field(60, description="Chunks fetched from BM25 per query.")
    exact_search_max_chunks: int = Field(
        100_000, ge=0, description="Collections of up to this many chunks are searched exactly (every embedding "
        "held in memory, ~1.5 KB a chunk: 150 MB at the limit) instead of through Chroma's approximate HNSW index, "
        "whose misses differ between processes. 0: always HNSW.")
    fusion_level: Literal["paper", "chunk"] = Field(
        "chunk", description="paper: reduce each ranking to one score per paper (its best chunk) and fuse the paper "
        "rankings; chunk: fuse chunk rankings, then keep each paper's best chunk.")
    fusion: Literal["zscore", "rrf"] = Field(
        "zscore", description="How the dense and BM25 rankings are fused. zscore: a weighted sum of each ranking's "
        "scores standardised over its candidates (how far ahead a passage is counts); rrf: weighted reciprocal-rank "
        "fusion (only the places count). SciFact train claims nDCG@10, dev / held-out: zscore 0.747 / 0.733, rrf "
        "(BM25 weight 1.5, the earlier default) 0.744 / 0.718.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant (fusion=rrf): larger flattens rank "
                       "differences.")
    dense_weight: float = Field(1.0, description="Weight of the dense ranking in fusion. 0 switches it off.")
    bm25_weight: float = Field(1.0, description="Weight of the BM25 ranking in fusion; 0 switches BM25 off. Equal "
                               "weights, not tuned: on the SciFact dev claims 0.8 / 1.0 / 1.25 give nDCG@10 "
                               "0.750 / 0.748 / 0.747 with zscore (a wash, re-fusing the same rankings).")
    bm25_level: Literal["paper", "chunk"] = Field(
        "chunk", description="paper: BM25 scores whole papers (title + abstract); chunk: each chunk is a BM25 "
        "document of its own. SciFact dev nDCG@10: paper helps whole-abstract chunks (0.732 → 0.739 at a 256 window) "
        "but not 192-piece ones (0.742 → 0.738).")
    alias_boost: float = Field(1.0, description="Score added to a paper whose title or nickname the query "
                               "names (fused scores lie in [0, 1], so this puts it first); 0 switches name matching "
                               "off.")
    topic_min_similarity: float = Field(0.0, description="Topic questions: papers whose best passage has "
                                        "cosine similarity below this are left out of the results. 0: whether a "
                                        "paper is about the topic is for coverage to say (0.2 dropped a dev topic "
                                        "paper at 0.186 once embeddings were int8).")
    topic_min_relevance: float = Field(0.5, description="Topic questions: keep papers whose relevance "
                                       "relative to the best paper (mean of similarity and BM25 ratios) is at "
                                       "least this. 0.5 / 0.2 tuned on eval/questions.jsonl: topic "
                                       "recall@10 0.969 (0.927 at 0.55 / 0.25) for ~6 papers returned, not ~5.")
    refresh_seconds: float = Field(1.0, description="Server mode: how often (at most) a running engine checks "
                                   "whether an ingest changed the collection, and reloads if so.")
    default_k: int = Field(5, description="Papers returned by search/ask when k is not given.")
    topic_k: int = Field(10, description="Papers an answer to a topic question (\"Which papers study X?\") may "
                         "use when k is not given.")
    max_query_chars: int = Field(2000, description="Queries longer than this are truncated (with a notice).")

    # --- answering --------------------------------------------------------------------------------------
    evidence_top: int = Field(3, description="A lookup question's evidence is looked for among this many of the best "
                              "papers (names and term coverage are checked on each).")
    min_coverage: float = Field(0.35, description="A paper is evidence for a question when it contains the "
                                "question's names and at least this share of its content terms, weighted by their "
                                "rarity in the collection (IDF). Chosen on the dev half of eval/questions.jsonl.")
    topic_min_coverage: float = Field(0.4, description="The same share for a paper listed under a topic question "
                                      "(\"Which papers study X?\"): papers below it are not about the topic.")
    central_sentences: int = Field(2, description="A name a question is about (\"How was GPT-4 trained?\") is "
                                   "central to a paper when it is the paper's own name, in its title, or in this many "
                                   "opening sentences of its abstract.")
    partial_min_coverage: float = Field(0.5, description="A comparison with a side the collection lacks is answered "
                                        "for the other sides only when each of them is named or has at least this "
                                        "term coverage; else it is not covered.")
    detail_min_terms: int = Field(10, description="A name no abstract contains is only a detail of a question "
                                  "(answered from the rest, and reported) when the rest is a description of at least "
                                  "this many content terms that the evidence covers by `partial_min_coverage`; a "
                                  "shorter question (\"how do open LLMs score on MMLU?\") is about the name.")
    extractive_sentences: int = Field(3, description="Sentences quoted per paper in extractive answers.")
    support_threshold: float = Field(0.35, description="LLM mode: a cited sentence whose best lexical/embedding "
                                     "support in its cited passage is below this is marked unsupported.")
    attribution_threshold: float = Field(0.6, description="LLM mode: a sentence the model did not cite gets the "
                                         "citation of the source whose support (mean of its best sentence's "
                                         "embedding similarity and the share of the sentence's words the source "
                                         "contains) is highest, when it reaches this; else it is marked as not found "
                                         "in the sources.")
    min_supported_share: float = Field(0.5, description="LLM mode: the model's answer is shown only when at least "
                                       "this share of its sentences is supported by the sources; else the "
                                       "extractive answer is, with a notice.")
    max_question_chars: int = Field(2000, description="Questions longer than this are refused.")

    # --- LLM (off unless the user names an endpoint) ----------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "RAG_OPENAI_API_KEY", "openai_api_key"),
        description="API key for OpenAI (or the endpoint in llm_base_url).")
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "RAG_OPENAI_BASE_URL", "openai_base_url"),
        description="OpenAI-compatible base URL used with OPENAI_API_KEY.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server (Ollama, vLLM, llama.cpp, "
                                     "LM Studio), e.g. http://127.0.0.1:11434/v1. Needs llm_model.")
    llm_model: str | None = Field(None, description="Model name. With llm_base_url or OPENAI_API_KEY it "
                                  "turns on LLM mode (OPENAI_API_KEY alone defaults to gpt-4o-mini).")
    llm_context_window: int = Field(8192, description="Context window of the model, in tokens, used when the "
                                    "server does not say (llama.cpp /props, Ollama /api/show, vLLM /v1/models) "
                                    "and no \"context length exceeded\" reply has named it.")
    llm_max_tokens: int = Field(800, description="Most tokens the answer may use (less when the prompt leaves "
                                "less room in the window: prompt + answer always fit).")
    llm_timeout: float = Field(60.0, description="Seconds the model may take to start answering (first token) "
                               "after a request is sent; it reads the whole prompt first (a small model on a "
                               "2-core CPU: ~60 prompt tokens/s). Not retried when it passes. Worst case of one "
                               "answer: see llm_max_seconds.")
    llm_max_retries: int = Field(2, description="Retries of a failed LLM request before falling back: only for "
                                 "failures before the first token (refused connection, 429, 5xx), never for "
                                 "timeouts, and only while the first-token deadline (llm_timeout) has not passed.")
    llm_idle_timeout: float = Field(20.0, description="Seconds the model may pause between two streamed pieces "
                                    "of its answer before it is abandoned (not retried).")
    llm_max_seconds: float = Field(120.0, description="Ceiling on the LLM part of one answer, all its requests "
                                   "together (a follow-up's rewrite, the answer, a retry with fewer sources). An "
                                   "answer still streaming then is cut at its last complete sentence. So an "
                                   "answer never takes longer than this plus retrieval and checking (~1 s).")
    llm_extra_sources: int = Field(1, description="LLM mode: papers sent to the model besides the evidence (the "
                                   "papers that cover the question). Each abstract costs ~250 prompt tokens; small "
                                   "models answer sooner and stray less with fewer.")
    llm_probe_window: bool = Field(True, description="Ask a llm_base_url server for its context window once "
                                   "(/props, /v1/models, /api/show; 3 s each at most).")
    llm_temperature: float = Field(0.0, description="Sampling temperature (0: the most likely token, so the same "
                                   "prompt gets the same answer).")
    llm_seed: int | None = Field(None, description="Sampling seed sent with every request (llama.cpp, vLLM, "
                                 "Ollama and OpenAI take one), for answers that repeat also above temperature 0.")

    # --- chat UI ----------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the chat binds to.")
    port: int = Field(7860, description="Port the chat listens on.")
    auth_user: str | None = Field(None, description="Username for the chat (with auth_password).")
    auth_password: SecretStr | None = Field(None, description="Password for the chat.")
    ui_concurrency: int = Field(8, description="Questions answered at once by the chat.")
    ui_rate_limit: int = Field(20, description="Questions per minute one browser session may ask.")

    @field_validator("collection")
    @classmethod
    def _collection_len(cls, v: str) -> str:
        if not 3 <= len(v) <= 512:
            raise ValueError("collection name must be 3–512 characters")
        return v

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model) or self.openai_api_key is not None

    def secrets(self) -> list[str]:
        """Secret values that must never appear in anything the project prints or writes."""
        out = []
        for s in (self.openai_api_key, self.auth_password):
            if s is not None and s.get_secret_value():
                out.append(s.get_secret_value())
        return out


def configure_offline_environment() -> None:
    """Point tiktoken/HF at the bundled files so nothing is fetched at run time (see MACHINE.md).
    Lives here because this is the only module allowed to touch the environment."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        import importlib.util

        spec = importlib.util.find_spec("llama_index.core")
        if spec and spec.submodule_search_locations:
            cache = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
            if cache.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
