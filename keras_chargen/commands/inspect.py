"""`keras-chargen inspect`: placeholder until the inspect issue lands."""


def add_parser(subparsers):
    p = subparsers.add_parser("inspect", help="(inspect: not implemented yet)")
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.commands.common import CliError

    raise CliError("not implemented yet")
