"""Generate ``docs/cli.md`` from the commands' own ``--help`` (a test fails when the file is stale).

python -m analyzer.cli_reference > docs/cli.md
"""

from __future__ import annotations

import click

from analyzer.cli import main


def _walk(cmd: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            out += _walk(cmd.commands[name], [*path, name])
    return out


def reference() -> str:
    lines = [
        "# Command reference",
        "",
        "Generated from `--help` by `python -m analyzer.cli_reference`; do not edit.",
        "",
    ]
    for path, cmd in _walk(main, ["blastwall"]):
        ctx = click.Context(
            cmd,
            info_name=" ".join(path),
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        )
        lines += [f"## `{' '.join(path)}`", "", "```", cmd.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(reference(), end="")
