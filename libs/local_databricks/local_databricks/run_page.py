"""The small HTML page behind run_page_url: state, tasks and their logs."""

from __future__ import annotations

from html import escape

from local_databricks.executor import log_tail
from local_databricks.scheduler import Run

_STYLE = (
    "body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}"
    "pre{background:#f4f4f4;padding:1em;overflow:auto;max-height:30em}"
)


def render(run: Run, usage: dict) -> str:
    rows = "".join(
        f"<tr id='task-{t.run_id}'><td>{escape(t.task_key)}</td><td>{t.run_id}</td>"
        f"<td>{t.life_cycle_state}</td><td>{t.result_state or ''}</td>"
        f"<td>{escape(t.state_message[:300])}</td></tr>"
        for t in run.tasks
    )
    logs = "".join(
        f"<h3>{escape(t.task_key)} (run {t.run_id})</h3>"
        f"<pre>{escape(log_tail(t.log_path)[0])}</pre>"
        for t in run.tasks
        if t.log_path is not None
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Run {run.run_id}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(run.run_name)} &mdash; run {run.run_id}</h1>"
        f"<p>State: <b>{run.life_cycle_state}</b> {run.result_state or ''} "
        f"{escape(run.state_message[:500])}</p>"
        f"<p>Clusters started: {usage['cluster_starts']}, "
        f"cluster-seconds: {usage['cluster_seconds']}</p>"
        "<table><tr><th>Task</th><th>Run id</th><th>Life cycle</th><th>Result</th>"
        f"<th>Message</th></tr>{rows}</table><h2>Logs</h2>{logs}</body></html>"
    )
