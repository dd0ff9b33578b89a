"""The README's results tables from finished runs, seeds averaged: `kws-table`, under the name the result
files in docs/results/ record (their commands are re-run as typed there).

    python scripts/results_table.py outputs/seeds/offline/*/ --json-out docs/results/cnn_seeds.json

Options and columns: `kws-table --help` (kws/commands/table.py).
"""

from kws.commands.table import main

if __name__ == "__main__":
    main(program="python scripts/results_table.py")
