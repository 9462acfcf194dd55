"""The commands' work, as library functions: each module takes a job (a dataclass of plain
values, which a command makes from its flags) and returns a result, or raises cli.UsageError,
cli.Failed or cli.Interrupted, which cli.run turns into exit statuses 2, 1 and 130.

Nothing here reads flags, standard input or standard output: tests run a job in-process.
"""
