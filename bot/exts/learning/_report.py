"""Fine-tune progress and results as people read them."""

from __future__ import annotations

import io

import discord

from bot.core.finetune import FinetuneReport
from bot.storage import RunStatus

_METRICS = (
    ("val_perplexity", "validation perplexity", True),
    ("test_perplexity", "test perplexity", True),
    ("val_token_accuracy", "validation token accuracy", False),
)


def _num(value) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else "n/a"


def progress_text(report: FinetuneReport) -> str:
    job = report.job
    if job is None:
        return f"Training run {report.run_id}: exporting pairs…"
    p = job.progress
    parts = [f"Training run {report.run_id}, job `{job.id}`: {job.state}", f"phase {p.get('phase', '?')}"]
    if p.get("step") is not None and p.get("total"):
        parts.append(f"step {p['step']}/{p['total']}")
    if p.get("loss") is not None:
        parts.append(f"loss {_num(p['loss'])}")
    return ", ".join(parts) + f"\n{report.pairs_sent} pairs sent ({report.pairs_new} new)."


def result_text(report: FinetuneReport) -> str:
    if report.status != RunStatus.SUCCEEDED:
        return f"Training run {report.run_id} {report.status.value}: {report.error or 'no reason given'}."
    verdict = {
        "activated": "accepted and now active",
        "rejected": "rejected by the quality gate (the current model stays)",
        "candidate": "kept as a candidate (not activated)",
    }.get(report.outcome or "", report.outcome or "finished")
    lines = [
        f"Training run {report.run_id}: version `{report.version}` {verdict}.",
        f"{report.pairs_sent} pairs ({report.pairs_new} new).",
    ]
    for key, label, lower_better in _METRICS:
        before, after = report.before.get(key), report.after.get(key)
        if before is not None or after is not None:
            arrow = ""
            if isinstance(before, (int, float)) and isinstance(after, (int, float)) and before != after:
                arrow = " (better)" if (after < before) == lower_better else " (worse)"
            lines.append(f"• {label}: {_num(before)} → {_num(after)}{arrow}")
    gate = report.after.get("gate") or (report.job.gate if report.job else None)
    if isinstance(gate, dict) and gate.get("reasons"):
        lines.append("Gate: " + "; ".join(map(str, gate["reasons"])))
    return "\n".join(lines)[:1900]


def chart_file(report: FinetuneReport) -> discord.File | None:
    if report.chart is None:
        return None
    return discord.File(io.BytesIO(report.chart), filename=f"losses-run-{report.run_id}.png")
