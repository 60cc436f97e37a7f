from eval.harness.fusion import Legs, candidates, doc_ranking, score
from rag.retrieval import fuse_z


def test_z_fusion_is_scale_free_and_counts_a_missing_row_as_the_legs_worst():
    dense = [(1, 0.90), (2, 0.85), (3, 0.80)]
    bm25 = [(3, 30.0), (4, 10.0), (1, 5.0)]
    a = fuse_z(dense, bm25, 0.5)
    b = fuse_z([(r, s * 100) for r, s in dense], [(r, s / 10) for r, s in bm25], 0.5)
    assert [r for r, _ in a] == [r for r, _ in b]  # rescaling a leg changes nothing
    assert a[0][0] in (1, 3) and {r for r, _ in a} == {1, 2, 3, 4}


def test_document_ranking_by_best_chunk_plus_a_share_of_the_others():
    fused = [(0, 1.0), (2, 0.9), (1, 0.8)]
    doc_of = ["x", "x", "y"]
    assert doc_ranking(fused, doc_of) == ["x", "y"]
    assert doc_ranking([(2, 1.0), (0, 0.95), (1, 0.9)], doc_of, share=0.1) == ["x", "y"]
    assert doc_ranking([(2, 1.0), (0, 0.95), (1, 0.9)], doc_of, share=0.0) == ["y", "x"]


def test_score_measures_each_candidate():
    legs = [Legs(((0, 0.9), (1, 0.5)), ((1, 9.0), (0, 1.0)), ("a",))]
    doc_of = ["a", "b"]
    c = candidates()
    assert score(legs, doc_of, c["dense"]) == {"hit@1": 1.0, "hit@5": 1.0}
    assert score(legs, doc_of, c["bm25"])["hit@1"] == 0.0
    assert "rrf k=10" in c and "convex-z w=0.5" in c
