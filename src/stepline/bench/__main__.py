"""``python -m stepline.bench``: one subcommand per benchmark."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stepline.bench import cost, faults, imports, lists, scale, speed, yawl


def parser() -> argparse.ArgumentParser:
    """The command line: a subcommand per benchmark, each with its own options."""
    root = argparse.ArgumentParser(prog="python -m stepline.bench", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    speed.add_arguments(commands.add_parser("speed", help=speed.HELP, description=speed.__doc__))
    cost.add_arguments(
        commands.add_parser(
            "cost",
            help=cost.HELP,
            description=cost.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    faults.add_arguments(
        commands.add_parser("faults", help=faults.HELP, description=faults.__doc__)
    )
    scale.add_arguments(commands.add_parser("scale", help=scale.HELP, description=scale.__doc__))
    for name, module in (("list", lists), ("imports", imports), ("yawl", yawl)):
        module.add_arguments(
            commands.add_parser(
                name,
                help=module.HELP,
                description=module.__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmark; the process exit status."""
    args = parser().parse_args(argv)
    benches = {"speed": speed, "cost": cost, "faults": faults, "scale": scale}
    benches |= {"list": lists, "imports": imports, "yawl": yawl}
    if args.command in benches:
        result: int = benches[args.command].main(args)
        return result
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects the rest


if __name__ == "__main__":
    sys.exit(main())
