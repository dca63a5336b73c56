"""The model card of one distilled student, from the metrics record, its train_info.json and
(when it was run in MD) the MD stability summary."""

from distillery.forcefield.cards import model_card
from distillery.io import atomic_write, read_json
from distillery.metrics.record import read_metrics
from distillery.workflow import run_script


def main(snakemake) -> None:
    inputs = snakemake.input
    md = read_json(inputs.md) if hasattr(inputs, "md") else None
    card = model_card(read_metrics(inputs.metrics), snakemake.wildcards.model,
                      read_json(inputs.info), md, snakemake.params.temperature)
    with atomic_write(snakemake.output.card, "w") as handle:
        handle.write(card)
    print(card.splitlines()[-1])


run_script(main, snakemake)
