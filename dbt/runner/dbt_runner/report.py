"""Turn dbt's run results into one line per node and a verdict that names what failed."""

from collections.abc import Iterable

from dbt.artifacts.schemas.results import NodeStatus

FAILED = {NodeStatus.Error, NodeStatus.Fail, NodeStatus.RuntimeErr}


def node_line(result) -> str:
    """`<type> <name> <status> <seconds>s rows=<n>`; for tests rows are the failing rows."""
    node = result.node
    if node.resource_type == "test":
        rows = result.failures
    else:
        rows = (result.adapter_response or {}).get("rows_affected")
    rows_text = "-" if rows is None or rows < 0 else str(rows)
    return (
        f"{node.resource_type:<8} {node.name:<60} {str(result.status):<8} "
        f"{result.execution_time:7.2f}s rows={rows_text}"
    )


def failures(results: Iterable) -> list[str]:
    """`<type> <name>: <message>` for every node that errored or failed; a test names the node
    it tests (`test not_null_x_id (of model x): ...`), so a task building several models says
    which one failed."""
    return [
        f"{r.node.resource_type} {r.node.name}{_tested(r.node)}: "
        f"{(r.message or str(r.status)).strip()}"
        for r in results
        if r.status in FAILED
    ]


def _tested(node) -> str:
    """` (of <type> <name>)` for a test attached to a node (`model.project.name`), else ``."""
    attached = getattr(node, "attached_node", None)
    if not attached:
        return ""
    kind, *_, name = attached.split(".")
    return f" (of {kind} {name})"
