"""The paper report's findings are computed from the run they describe."""

from jaxik import reproduce


def setting(success: list[float], first_hit: list[int | None]) -> dict:
    steps = [1000.0, 2000.0, 3000.0]
    curves = [[1.0 if hit is not None and s >= hit else 0.0 for s in steps] for hit in first_hit]
    return {"final": {"eval_success": success}, "curve_steps": steps, "curve_success": curves}


def test_findings_follow_the_numbers():
    results = {
        "settings": {
            "sparse_her": {"td3": setting([1.0, 0.96], [1000, 1000])},
            "sparse_noher": {"td3": setting([0.5, 0.97], [None, 3000])},
        }
    }
    text = "\n".join(reproduce.findings(results))
    assert "Sparse, HER: final success TD3 98% (worst seed 96%)" in text
    assert "Sparse, no HER: final success TD3 74% (worst seed 50%)" in text
    assert "TD3 1/2 seeds reach 95 % without HER, in 3.0x the steps with HER" in text
