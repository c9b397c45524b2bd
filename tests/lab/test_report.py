"""HTML reports are self-contained: figures embedded as base64, no external resources; study page shows
the paper's value beside ours with the verdict."""

from __future__ import annotations

import re
from pathlib import Path

from plasticity.lab.report import write_run_report, write_study_report, write_sweep_report
from plasticity.lab.store import RunStore
from plasticity.studies import Check, Study, paper


def _external(html: str) -> list[str]:
    return re.findall(r"(?:src|href)='(?!data:)(?!https?://(?:example|arxiv))[^']+'", html)


def test_run_and_sweep_reports(tmp_path: Path) -> None:
    st = RunStore(tmp_path / "s.db")
    st.upsert_sweep("sw", "sw", {"grid": {"seed": [0, 1]}})
    for i in range(2):
        rid = f"r{i}"
        st.create_run(rid, {"seed": i}, name=f"n{i}", seed=i, sweep_id="sw", run_dir=str(tmp_path / rid),
                      git_rev="abc")
        hist = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.1 / e, "test_accuracy": 0.5 + 0.1 * e}
                for e in (1, 2, 3)]
        st.finish_run(rid, "finished", results=hist[-1], history=hist, seconds=1.0)
    html = write_run_report(st, "r0").read_text()
    assert html.count("data:image/png;base64,") == 1 and "0.8" in html and not _external(html)
    sw = write_sweep_report(st, "sw").read_text()
    assert "r0" in sw and "r1" in sw and "data:image/png;base64," in sw and not _external(sw)


def test_study_report_paper_beside_ours(tmp_path: Path) -> None:
    def run(cfg, ctx):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, cfg["k"]])
        fig.savefig(ctx.figure_path("curve.png"))
        plt.close(fig)
        return {"acc": 0.93}

    def checks(m, cfg):
        return [Check("acc within 2 pts", m["acc"], "~", paper("acc"), tol=0.02, detail="digits")]

    study = Study(name="demo", title="A demo paper", authors="Doe", year=2024, url="https://example.org",
                  claim="things work", scales={"smoke": {"k": 1}}, run_fn=run, checks_fn=checks,
                  paper_values={"acc": 0.97})
    res = study.run(scale="smoke", out_dir=tmp_path / "out", quiet=True)
    html = write_study_report(res.out_dir).read_text()
    assert "A demo paper" in html and "acc within 2 pts" in html
    assert "<td>0.93</td><td>0.97 ± 0.02 acc</td><td class='fail'>FAIL</td>" in html
    assert "Deviations from the paper" in html
    assert "data:image/png;base64," in html and not _external(html)
