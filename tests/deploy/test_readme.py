"""The deployment, dashboards and runbook pages of the documentation, held true to the code.

Every ``scaler`` command these sections show exists, with every option it is given;
the deployment section names every daemon setting and every ``config.*`` value.
"""

from __future__ import annotations

import re

import click
import pytest

from scaler.cli.main import main
from scaler.settings import Settings
from tests.deploy.chart import load_values
from tests.doc_pages import marked_section

#: Each checked section and the page of docs/ it lives on.
SECTIONS = {"deployment": "deployment.md", "dashboards": "dashboards-and-alerts.md", "runbook": "runbook.md"}
#: ``scaler`` followed by its words, in code: not part of a longer name (simplismart-scaler, deployment/scaler-...)
#: nor a container's name (docker run --name scaler).
_COMMAND = re.compile(r"(?<![\w./-])(?<!--name )scaler((?: +(?:--?[A-Za-z][\w-]*|[A-Za-z][\w-]*))*)")


def section(name: str) -> str:
    """Return the text of section ``name`` on its page of docs/."""
    return marked_section(SECTIONS[name], name)


def code_of(text: str) -> list[str]:
    """Return the code of ``text``: each line of its fenced blocks and each inline code span."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    prose = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.DOTALL)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return lines + re.findall(r"`([^`\n]+)`", prose)


def command_problems(code: str) -> list[str]:
    """Return what is wrong with each ``scaler ...`` command in ``code``: unknown commands or options."""
    problems = []
    for match in _COMMAND.finditer(code):
        words = match.group(1).split()
        command: click.Command = main
        path = ["scaler"]
        options = {"--help", "-h", "--version"}
        for word in words:
            if word.startswith("-"):
                if word not in options:
                    problems.append(f"{' '.join(path)}: no option {word}")
                continue
            if isinstance(command, click.Group):
                sub = command.get_command(click.Context(command), word)
                if sub is None:
                    problems.append(f"{' '.join(path)}: no command {word}")
                    break
                command, path = sub, [*path, word]
                options = {"--help", "-h"} | {
                    name for param in command.params for name in (*param.opts, *param.secondary_opts)
                }
    return problems


@pytest.mark.parametrize("name", SECTIONS)
def test_every_scaler_command_shown_exists_with_its_options(name: str) -> None:
    """Each `scaler ...` in the section's code is a real command, given only options it has."""
    shown = [line for line in code_of(section(name)) if _COMMAND.search(line)]
    assert shown or name == "dashboards"
    assert [] == [problem for line in shown for problem in command_problems(line)]


def test_command_check_can_fail() -> None:
    """An unknown command and an unknown option are both reported."""
    assert ["scaler: no command pause", "scaler suspend: no option --hours"] == command_problems(
        "scaler pause x; scaler suspend NAME --hours 2"
    )


def test_names_of_the_project_are_not_taken_for_commands() -> None:
    """simplismart-scaler, deployment/scaler-simplismart-scaler, a container named scaler are not commands."""
    assert [] == command_problems(
        "docker build -t simplismart-scaler:0.1.0 deployment/scaler-simplismart-scaler x; docker run --name scaler -d"
    )


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(word.capitalize() for word in rest)


def test_deployment_section_names_every_daemon_setting() -> None:
    """Each SCALER_* setting is named in the deployment section, by its variable or by its config.* key."""
    text = section("deployment")
    missing = [
        f"SCALER_{field.upper()}"
        for field in Settings.model_fields
        if f"SCALER_{field.upper()}" not in text and f"`{_camel(field)}`" not in text
    ]
    assert [] == missing


def test_deployment_section_names_every_config_value() -> None:
    """Each config.* value of the chart (nested ones as a.b) is named in the deployment section."""
    text = section("deployment")
    keys = []
    for key, value in load_values()["config"].items():
        keys += [f"{key}.{sub}" for sub in value] if isinstance(value, dict) else [key]
    named = {key for key in keys if f"`{key}`" in text or f"`{key.split('.')[0]}.{key.split('.')[-1]}`" in text}
    named |= {key for key in keys if "." in key and f"`{key.split('.')[-1]}`" in text}
    assert [] == [key for key in keys if key not in named]
