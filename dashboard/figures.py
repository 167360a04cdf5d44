"""Plotly figures built on the server. Each builder returns a go.Figure (tests read its data);
`html()` turns one into a <div> for a template (plotly.min.js comes from our static files)."""
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

SIGNALS = ("graph", "social", "sequence")
METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr")
COLOURS = {"graph": "#4c78a8", "social": "#f58518", "sequence": "#54a24b"}


def html(fig: go.Figure, height: int | None = None) -> str:
    fig.update_layout(margin={"l": 40, "r": 16, "t": 36, "b": 36}, template="plotly_white")
    if height:
        fig.update_layout(height=height)
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


# --- overview ----------------------------------------------------------------------------

def overview_series(series: dict) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for name in ("views", "carts", "impressions", "clicks", "orders"):
        fig.add_trace(go.Scatter(x=series["day"], y=series[name], name=name, mode="lines+markers"))
    fig.add_trace(
        go.Bar(x=series["day"], y=[float(v) for v in series["revenue"]], name="revenue", opacity=0.3),
        secondary_y=True,
    )
    fig.update_layout(title="Activity per day", legend={"orientation": "h"})
    fig.update_yaxes(title_text="revenue", secondary_y=True, rangemode="tozero")
    fig.update_yaxes(rangemode="tozero", secondary_y=False)
    return fig


def widget_ctr(widgets) -> go.Figure:
    names = [w.widget or "(none)" for w in widgets]
    fig = go.Figure(go.Bar(x=names, y=[(w.ctr or 0) * 100 for w in widgets], name="CTR %"))
    fig.update_layout(title="Click-through rate per widget (%)")
    return fig


# --- one customer's explanation ----------------------------------------------------------

def signal_shares(explanation: dict) -> go.Figure:
    """How much each signal counted for this customer (the fusion gate's weights)."""
    signals = explanation.get("signals") or {}
    names = [s for s in SIGNALS if s in signals]
    fig = go.Figure(go.Bar(
        x=[signals[s] for s in names], y=names, orientation="h",
        marker_color=[COLOURS[s] for s in names], text=[f"{signals[s]:.0%}" for s in names],
    ))
    fig.update_layout(title="Signal shares", xaxis={"range": [0, 1]})
    return fig


def friends_attention(explanation: dict) -> go.Figure:
    """The social attention over this customer's friends; darker when the friend interacted with the item."""
    friends = explanation.get("friends") or []
    fig = go.Figure(go.Bar(
        x=[f["weight"] for f in friends], y=[str(f["user"]) for f in friends], orientation="h",
        marker_color=["#f58518" if f.get("interacted_with_item") else "#fdd0a2" for f in friends],
        text=[f"{f['weight']:.2f}" for f in friends], textposition="auto",
    ))
    fig.update_layout(title="Friends' attention", yaxis={"autorange": "reversed"})
    return fig


def recent_items_heat(explanation: dict) -> go.Figure:
    """The sequence attention over the customer's recent items, oldest to newest."""
    items = explanation.get("recent_items") or []
    fig = go.Figure(go.Heatmap(
        z=[[i["weight"] for i in items]], x=[str(i["item"]) for i in items], y=["attention"],
        colorscale="Greens", zmin=0, showscale=False, texttemplate="%{z:.2f}",
    ))
    fig.update_layout(title="Recent items' attention")
    return fig


def explanation_figures(explanation: dict) -> dict[str, go.Figure]:
    """Only the parts the explanation has: never a chart of made-up values."""
    figures = {}
    if explanation.get("signals"):
        figures["signals"] = signal_shares(explanation)
    if explanation.get("friends"):
        figures["friends"] = friends_attention(explanation)
    if explanation.get("recent_items"):
        figures["recent"] = recent_items_heat(explanation)
    return figures


def social_network(center, nodes, edges, attention: dict[tuple[int, int], float]) -> go.Figure:
    """Friends on an inner ring, friends-of-friends outside; edge width = the model's social
    attention of the follower over that friend (grey dotted where the model gave none)."""
    friends = sorted({b for a, b in edges if a == center.pk})
    others = sorted({n.pk for n in nodes} - set(friends) - {center.pk})
    position = {center.pk: (0.0, 0.0)}
    for ring, members in ((1.0, friends), (2.0, others)):
        for i, pk in enumerate(members):
            angle = 2 * math.pi * i / max(len(members), 1)
            position[pk] = (ring * math.cos(angle), ring * math.sin(angle))
    names = {n.pk: n.display_name for n in nodes}
    fig = go.Figure()
    for a, b in edges:
        (x0, y0), (x1, y1) = position[a], position[b]
        weight = attention.get((a, b))
        fig.add_trace(go.Scatter(
            x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="text", showlegend=False,
            text=f"{names[a]} → {names[b]}: " + (f"attention {weight:.2f}" if weight is not None else "no attention"),
            line={"width": 1 + 10 * weight, "color": "#f58518"} if weight is not None
            else {"width": 1, "color": "#bbbbbb", "dash": "dot"},
            customdata=[[a, b, weight]] * 2,
        ))
    order = [center.pk, *friends, *others]
    fig.add_trace(go.Scatter(
        x=[position[pk][0] for pk in order], y=[position[pk][1] for pk in order], mode="markers+text",
        text=[names[pk] for pk in order], textposition="top center", hoverinfo="text", showlegend=False,
        marker={"size": [22] + [16] * len(friends) + [10] * len(others),
                "color": ["#4c78a8"] + ["#f58518"] * len(friends) + ["#9ecae1"] * len(others)},
    ))
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False})
    return fig


# --- model ---------------------------------------------------------------------------------

def metrics_vs_baselines(version, split: str = "test") -> go.Figure:
    models = {"hybrid": (version.metrics or {}).get(split) or {}}
    models.update(version.baseline_metrics or {})
    fig = go.Figure()
    for name, values in models.items():
        fig.add_trace(go.Bar(name=name, x=list(METRICS), y=[values.get(m) for m in METRICS]))
    fig.update_layout(title=f"v{version.pk}: hybrid vs baselines ({split})", barmode="group")
    return fig


def training_curves(history: list[dict], title: str = "Training") -> go.Figure:
    """Loss and validation NDCG@10 per epoch; one pair of lines per tower (the hybrid trains its
    towers one after another, and their losses are not on one scale)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    towers = list(dict.fromkeys(point.get("tower") for point in history))
    for tower in towers:
        points = [p for p in history if p.get("tower") == tower]
        epochs = [p.get("epoch") for p in points]
        prefix = f"{tower} " if tower else ""
        fig.add_trace(go.Scatter(x=epochs, y=[p.get("loss") for p in points], name=f"{prefix}loss",
                                 mode="lines+markers"))
        fig.add_trace(go.Scatter(x=epochs, y=[p.get("val_ndcg@10") for p in points],
                                 name=f"{prefix}val NDCG@10", mode="lines+markers", line={"dash": "dot"}),
                      secondary_y=True)
    fig.update_layout(title=title, xaxis_title="epoch", legend={"orientation": "h"})
    return fig


# --- products ------------------------------------------------------------------------------

def sentiment_over_time(rows: list[dict]) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    months = [r["month"] for r in rows]
    fig.add_trace(go.Scatter(x=months, y=[r["sentiment"] for r in rows], name="mean sentiment", mode="lines+markers"))
    fig.add_trace(go.Bar(x=months, y=[r["reviews"] for r in rows], name="reviews", opacity=0.3), secondary_y=True)
    fig.update_layout(title="Review sentiment per month", yaxis={"range": [-1, 1]})
    return fig
