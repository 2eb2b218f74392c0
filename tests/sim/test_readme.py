"""The simulator page stays true to the code: its seed example loads, its control API table is complete."""

from __future__ import annotations

import re
from pathlib import Path

from scaler.sim.app import create_app
from scaler.sim.seed import load_seed
from scaler.sim.state import SimState
from tests.doc_pages import marked_section


def section() -> str:
    """Return the simulator's section of the documentation."""
    return marked_section("simulator.md", "commands-sim")


def test_docs_seed_example_is_a_valid_seed(tmp_path: Path) -> None:
    """The seed format example of the simulator page loads without error."""
    example = re.search(r"```yaml\n(.*?)```", section(), re.S)
    assert example is not None
    path = tmp_path / "example.yaml"
    path.write_text(example.group(1))
    assert ["whisper-v3"] == [d.deployment_name for d in load_seed(path).deployments]


def test_docs_list_every_control_endpoint_and_no_other() -> None:
    """The control API table names exactly the routes the app serves under /_sim/."""
    documented = set()
    for cell in re.findall(r"^\| `([A-Z]+ /_sim/[^`]*)`(?:, `([A-Z]+ /_sim/[^`]*)`)?", section(), re.M):
        for entry in cell:
            if entry:
                method, path = entry.split(" ", 1)
                documented.add(
                    (
                        method,
                        path.split("?")[0].rstrip("/").replace("/_sim", "", 1).replace("{id}", "{deployment_id}")
                        or "/",
                    )
                )
    app = create_app(SimState())
    mount = next(route for route in app.routes if getattr(route, "path", "") == "/_sim")
    served = {(method, route.path.rstrip("/") or "/") for route in mount.routes for method in route.methods - {"HEAD"}}
    assert served == documented
