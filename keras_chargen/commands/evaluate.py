"""`keras-chargen evaluate`: placeholder until the evaluate issue lands."""


def add_parser(subparsers):
    p = subparsers.add_parser("evaluate", help="(evaluate: not implemented yet)")
    p.set_defaults(run=run)


def run(args):
    from keras_chargen.commands.common import CliError

    raise CliError("not implemented yet")
