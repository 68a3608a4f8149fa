"""Render the evaluate stage's plots as one self-contained HTML page, readable offline.

    python scripts/render_plots.py plots/evaluate --out plots/evaluate.html

Reads `per_label.json` (a row per label: precision, recall, f1-score, support) and `confusion.json` (a row per
entity error or match: actual, predicted) written by `vipie evaluate --plots`, and writes F1 per label as bars and
the label confusion as a heat map. plotly.js is written into the page itself, so nothing is fetched from a CDN
(DVC's own `dvc plots show` page loads vega from one and stays blank without a network).
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def confusion_matrix(rows: list[dict]) -> tuple[list[str], list[list[int]]]:
    """The labels (actual or predicted, "O" for none) and counts[actual][predicted] of confusion rows."""
    counts = Counter((row["actual"], row["predicted"]) for row in rows)
    labels = sorted({label for pair in counts for label in pair})
    return labels, [[counts[(actual, predicted)] for predicted in labels] for actual in labels]


def figure(per_label: list[dict], confusion: list[dict]) -> go.Figure:
    labels, matrix = confusion_matrix(confusion)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6],
                        subplot_titles=("F1 per label", "label confusion (rows: gold, columns: predicted)"))
    fig.add_trace(go.Bar(x=[row["f1-score"] for row in per_label], y=[row["label"] for row in per_label],
                         orientation="h", text=[f"{row['f1-score']:.3f}" for row in per_label],
                         hovertext=[f"P {row['precision']:.3f}, R {row['recall']:.3f}, support {int(row['support'])}"
                                    for row in per_label], name="F1"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=matrix, x=labels, y=labels, text=matrix, texttemplate="%{text}", colorscale="Blues",
                             showscale=False, name="count"), row=1, col=2)
    fig.update_xaxes(range=[0, 1], row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=500, showlegend=False)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plots", type=Path, help="A folder with per_label.json and confusion.json.")
    parser.add_argument("--out", type=Path, required=True, help="The HTML page to write.")
    args = parser.parse_args()
    per_label = json.loads((args.plots / "per_label.json").read_text(encoding="utf-8"))
    confusion = json.loads((args.plots / "confusion.json").read_text(encoding="utf-8"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # A fixed div id: plotly draws a random one per page, and a page that changed with no change in its data would
    # make DVC record a new output at every `dvc repro`.
    figure(per_label, confusion).write_html(args.out, include_plotlyjs=True, full_html=True, div_id="vipie-plots")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
